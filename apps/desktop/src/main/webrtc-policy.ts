/**
 * What the shell changes in Chromium so that two terminals on a LAN connect over WebRTC with no STUN server and
 * no multicast name resolution, as plain data the Electron wiring applies:
 * - {@link CHROMIUM_SWITCHES}: `WebRtcHideLocalIpsWithMdns` off, so host candidates carry the terminal's LAN
 *   addresses instead of random `.local` names the other terminal would have to resolve by multicast (often
 *   blocked on shop networks);
 * - {@link WEBRTC_IP_HANDLING_POLICY}: WebRTC may enumerate and offer every network interface;
 * - {@link isPermissionCheckAllowed}: Chromium offers candidates on every interface (not only the default route)
 *   to a page it considers to hold the `media` permission, so the app's own origin passes that check. Requests
 *   (`getUserMedia`) still go through `isPermissionAllowed` and stay refused: no camera or microphone opens.
 */
import { originOf } from './origin';
import { isPermissionAllowed } from './security';

/** Switches appended to Chromium's command line before the app is ready (`app.commandLine.appendSwitch`). */
export const CHROMIUM_SWITCHES: readonly (readonly [name: string, value: string])[] = [
  ['disable-features', 'WebRtcHideLocalIpsWithMdns'],
];

/** The policy every window's `webContents.setWebRTCIPHandlingPolicy` gets: every interface may be offered. */
export const WEBRTC_IP_HANDLING_POLICY = 'default';

/** Whether a permission *check* passes: what `isPermissionAllowed` grants, plus `media` for the app's origin. */
export function isPermissionCheckAllowed(
  permission: string,
  requestingOrigin: string,
  appOrigin: string,
): boolean {
  if (permission === 'media') return originOf(requestingOrigin) === appOrigin;
  return isPermissionAllowed(permission, requestingOrigin, appOrigin);
}
