import { type ReactNode, type RefObject, useEffect, useRef } from 'react';

/** Modal dialog props. */
export interface ModalDialogProps {
  /** Added to the `dialog` class. */
  readonly className: string;
  readonly testId: string;
  /** The id of the dialog's title. */
  readonly labelledBy: string;
  /** Called when the dialog closes (Escape, or `close()`). */
  readonly onClose: () => void;
  /** What gets the focus when the dialog opens (default: the browser's choice, its first focusable element). */
  readonly initialFocus?: RefObject<HTMLElement | null>;
  readonly children: ReactNode;
}

/** A native modal `<dialog>`: shown while mounted (focus trapped, Escape closes it), closed when unmounted. */
export function ModalDialog({
  className,
  testId,
  labelledBy,
  onClose,
  initialFocus,
  children,
}: ModalDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: opens once, on mount; `initialFocus` is a ref
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    initialFocus?.current?.focus();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className={`dialog ${className}`}
      aria-labelledby={labelledBy}
      onClose={onClose}
      onCancel={onClose}
      data-testid={testId}
    >
      {children}
    </dialog>
  );
}
