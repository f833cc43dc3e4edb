/**
 * The desktop shell's typed errors. Each has a code (what the renderer switches on) and a message
 * that says what was wrong, where, and what to do.
 */
export class DesktopError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An IPC argument of the wrong type or out of range. */
export class IpcArgumentError extends DesktopError {
  constructor(channel: string, argument: string, problem: string) {
    super('BAD_ARGUMENT', `${channel}: argument '${argument}' ${problem}`);
  }
}

/** An IPC message from a frame that is not the app's own top-level page. */
export class IpcSenderError extends DesktopError {
  constructor(channel: string, url: string | null, why: string) {
    super('UNTRUSTED_SENDER', `${channel}: refused a message from ${url ?? 'a destroyed frame'}: ${why}`);
  }
}

/** A handle this window does not hold (never issued, closed, or issued to another window). */
export class UnknownHandleError extends DesktopError {
  constructor(handle: string) {
    super('UNKNOWN_HANDLE', `file handle '${handle}' is not open in this window (closed, or never opened here): open the file again`);
  }
}

/** A path the shell will not open: outside the model's folder, a symlink, not a regular file. */
export class PathRefusedError extends DesktopError {
  constructor(path: string, why: string) {
    super('PATH_REFUSED', `${path}: ${why}`);
  }
}

/** A read or write that failed on disk (the OS error code is in the message). */
export class FileAccessError extends DesktopError {
  constructor(path: string, action: string, cause: unknown) {
    const c = cause as NodeJS.ErrnoException;
    super('FILE_ACCESS', `${path}: cannot ${action} (${c?.code ?? c?.message ?? String(cause)})`);
  }
}
