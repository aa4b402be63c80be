import { expect, it } from 'vitest';
import { APP_ORIGIN } from './origin';
import { isPermissionAllowed } from './security';
import { CHROMIUM_SWITCHES, isPermissionCheckAllowed, WEBRTC_IP_HANDLING_POLICY } from './webrtc-policy';

it('turns off mDNS host-candidate obfuscation and lets WebRTC offer every interface', () => {
  expect(CHROMIUM_SWITCHES).toContainEqual(['disable-features', 'WebRtcHideLocalIpsWithMdns']);
  expect(WEBRTC_IP_HANDLING_POLICY).toBe('default');
});

it('passes the media permission check for the app only, and still refuses camera and microphone requests', () => {
  expect(isPermissionCheckAllowed('media', `${APP_ORIGIN}/`, APP_ORIGIN)).toBe(true);
  expect(isPermissionCheckAllowed('media', 'https://evil.example', APP_ORIGIN)).toBe(false);
  expect(isPermissionCheckAllowed('geolocation', `${APP_ORIGIN}/`, APP_ORIGIN)).toBe(false);
  expect(isPermissionCheckAllowed('fullscreen', `${APP_ORIGIN}/`, APP_ORIGIN)).toBe(true);
  expect(isPermissionAllowed('media', `${APP_ORIGIN}/`, APP_ORIGIN)).toBe(false);
});
