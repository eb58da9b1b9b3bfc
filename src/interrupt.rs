//! Ctrl-C during `setup`: before the plan is applied it ends the run at once (nothing was written); while it is
//! applied, the first stops after the steps in flight and the second quits.
//!
//! The handler is installed when setup starts, not when it applies, because a parent may have left SIGINT
//! ignored (a shell's background job does, and ignored signals are inherited): without a handler, Ctrl-C at a
//! wizard prompt that has not taken the terminal yet would do nothing, and the prompt would wait for ever.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What Ctrl-C does at this point of the run.
#[derive(Clone)]
pub struct Interrupt {
    applying: Arc<AtomicBool>,
    /// Set by the first Ctrl-C while applying: the steps not yet started are not started.
    pub cancelled: Arc<AtomicBool>,
    /// Ends the handler when the last copy goes (setup is over): what runs next (`demo --keep-running`) handles
    /// Ctrl-C its own way.
    _handler: Option<Arc<Handler>>,
}

/// The handler's task, aborted on drop.
struct Handler(tokio::task::AbortHandle);

impl Drop for Handler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Interrupt {
    /// Installs the handler (the listener exists once this returns, before any prompt).
    pub fn install() -> Interrupt {
        let mut i = Interrupt {
            applying: Arc::new(AtomicBool::new(false)),
            cancelled: Arc::new(AtomicBool::new(false)),
            _handler: None,
        };
        let Some(mut signals) = listener() else {
            return i;
        };
        let (applying, cancelled) = (i.applying.clone(), i.cancelled.clone());
        let task = tokio::spawn(async move {
            while signals.recv().await.is_some() {
                if !applying.load(Ordering::SeqCst) {
                    crate::console::note(format_args!(
                        "\nCtrl-C: stopped before anything was written"
                    ));
                    std::process::exit(130);
                }
                if cancelled.swap(true, Ordering::SeqCst) {
                    std::process::exit(130);
                }
                crate::console::note(format_args!(
                    "\nCtrl-C: stopping after the steps in flight (press again to quit at once)"
                ));
            }
        });
        i._handler = Some(Arc::new(Handler(task.abort_handle())));
        i
    }

    /// From now on the run writes: Ctrl-C stops it between steps.
    pub fn applying(&self) {
        self.applying.store(true, Ordering::SeqCst);
    }
}

#[cfg(unix)]
fn listener() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
}

#[cfg(not(unix))]
fn listener() -> Option<Ctrlc> {
    Some(Ctrlc)
}

#[cfg(not(unix))]
struct Ctrlc;

#[cfg(not(unix))]
impl Ctrlc {
    async fn recv(&mut self) -> Option<()> {
        tokio::signal::ctrl_c().await.ok()
    }
}
