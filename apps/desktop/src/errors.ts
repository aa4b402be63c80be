/**
 * Every error raised by `@loam/desktop`. Each carries a stable `code`; the IPC codes also travel to the
 * renderer, where the preload rebuilds the error from its code.
 */

/** Stable codes of the desktop shell's errors. */
export const DesktopErrorCode = {
  /** A command-line flag or environment variable has a value the shell cannot use; the message names it. */
  configInvalid: 'desktop_config_invalid',
  /** The terminal configuration file exists but is not valid JSON or breaks its shape; the message names the file. */
  terminalConfigInvalid: 'terminal_config_invalid',
  /** The terminal configuration file exists but cannot be read (permissions, a directory in its place). */
  terminalConfigUnreadable: 'terminal_config_unreadable',
  /** An IPC message arrived on a channel the shell does not serve. */
  ipcUnknownChannel: 'ipc_unknown_channel',
  /** An IPC message came from a frame whose origin is not the app's own. */
  ipcSenderRefused: 'ipc_sender_refused',
  /** An IPC message carried arguments its channel does not accept. */
  ipcBadArguments: 'ipc_bad_arguments',
  /** The shell was started without `--url` but its bundle holds no built POS app. */
  appMissing: 'desktop_app_missing',
  /** The Electron binary is not installed and could not be fetched. */
  electronMissing: 'electron_missing',
  /** Nothing answered at a peer terminal's LAN signaling address. */
  lanPeerUnreachable: 'lan_peer_unreachable',
  /** A peer terminal failed the key challenge, was not admitted, or refused this terminal's proof. */
  lanPeerRefused: 'lan_peer_refused',
  /** An address given for manual pairing is not `host:port`. */
  lanAddressInvalid: 'lan_address_invalid',
  /** A peers call that needs LAN peering came before `peers.start`. */
  lanPeersNotStarted: 'lan_peers_not_started',
  /**
   * The identity the app gave `peers.start` does not hold together: its certificate is not signed by its relay
   * key, or names another replica or key. Nothing was started or changed.
   */
  lanIdentityInvalid: 'lan_identity_invalid',
  /** LAN peering was started before the relay certified this device (it must reach its relay and sign in once). */
  lanNotCertified: 'lan_not_certified',
} as const;
export type DesktopErrorCode = (typeof DesktopErrorCode)[keyof typeof DesktopErrorCode];

/** Base class of the shell's errors: `code` is stable, `message` says what to do. */
export class DesktopError extends Error {
  readonly code: DesktopErrorCode;
  constructor(code: DesktopErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A command-line flag or environment variable that cannot be used. `source` names it, e.g. `--url`. */
export class ShellConfigError extends DesktopError {
  readonly source: string;
  constructor(source: string, message: string) {
    super(DesktopErrorCode.configInvalid, `Invalid ${source}: ${message}`);
    this.source = source;
  }
}

/** The terminal configuration file is unusable. `file` is its absolute path; the file is left as it was. */
export class TerminalConfigError extends DesktopError {
  readonly file: string;
  constructor(
    code: typeof DesktopErrorCode.terminalConfigInvalid | typeof DesktopErrorCode.terminalConfigUnreadable,
    file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, `Terminal configuration ${file}: ${message}`, options);
    this.file = file;
  }
}

/** An IPC request the main process refused; nothing was done for it. */
export class IpcRefusedError extends DesktopError {
  constructor(
    code:
      | typeof DesktopErrorCode.ipcUnknownChannel
      | typeof DesktopErrorCode.ipcSenderRefused
      | typeof DesktopErrorCode.ipcBadArguments,
    message: string,
  ) {
    super(code, message);
  }
}

/** The Electron binary is missing; `npm run desktop` prints this message instead of a stack trace. */
export class ElectronMissingError extends DesktopError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(DesktopErrorCode.electronMissing, message, options);
  }
}

/** A LAN peer could not be reached or paired with; nothing was exchanged with it. */
export class LanPeerError extends DesktopError {
  constructor(
    code:
      | typeof DesktopErrorCode.lanPeerUnreachable
      | typeof DesktopErrorCode.lanPeerRefused
      | typeof DesktopErrorCode.lanAddressInvalid
      | typeof DesktopErrorCode.lanPeersNotStarted
      | typeof DesktopErrorCode.lanIdentityInvalid,
    message: string,
  ) {
    super(code, message);
  }
}

/** LAN peering cannot start yet: the relay has not certified this device (`startLanPeering`). */
export class LanNotCertifiedError extends DesktopError {
  constructor() {
    super(
      DesktopErrorCode.lanNotCertified,
      'This terminal has no device certificate yet: connect it to the relay once so it signs in, then peer',
    );
  }
}
