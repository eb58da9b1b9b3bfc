//! When to try again: the policy of one request's retries, and the one backoff every wait-and-try-again loop of
//! the tool uses (replication, role propagation, a table not yet usable), on the tool's clock.

use std::future::Future;
use std::time::{Duration, Instant};

use super::{now, pause};
use crate::error::{Error, Result};

/// How hard to try before giving up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Time limit for one long-running operation.
    pub lro_timeout: Duration,
}

impl RetryPolicy {
    /// The wait before retry `attempt` (1-based): what Retry-After asks, else exponential backoff with ±25%
    /// jitter; at most `max_delay` either way. Retry-After is taken as a request, not an order: a huge value
    /// (a server's mistake, or a proxy's) would otherwise hang the run, or overflow once scaled.
    pub fn wait(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        if let Some(d) = asked {
            return self.honour(d);
        }
        let exp = self
            .base_delay
            .saturating_mul(1 << attempt.min(10).saturating_sub(1));
        let capped = exp.min(self.max_delay);
        let jitter = 0.75 + (uuid::Uuid::new_v4().as_u128() % 500) as f64 / 1000.0;
        capped.mul_f64(jitter)
    }

    /// What a Retry-After of `asked` is waited: at most `max_delay`.
    pub fn honour(&self, asked: Duration) -> Duration {
        asked.min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            lro_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// How the waits between tries grow: from `first`, doubling, to at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub first: Duration,
    pub cap: Duration,
}

impl Schedule {
    pub const fn new(first: Duration, cap: Duration) -> Schedule {
        Schedule { first, cap }
    }

    /// The same wait every time.
    pub const fn every(d: Duration) -> Schedule {
        Schedule { first: d, cap: d }
    }

    /// A backoff that stops waiting `budget` from now, on the tool's clock ([`now`]): a budget is Azure's time,
    /// so under a simulator's time scale it is met in a fraction of it.
    pub fn within(self, budget: Duration) -> Backoff {
        let until = now()
            .checked_add(budget)
            .unwrap_or_else(|| now() + Duration::from_secs(86_400 * 365));
        self.until(until)
    }

    /// A backoff that stops waiting at `until`, on the tool's clock.
    pub fn until(self, until: Instant) -> Backoff {
        Backoff {
            schedule: self,
            last: None,
            until,
            waits: 0,
        }
    }
}

/// One run of waits: a [`Schedule`] and a deadline on the tool's clock. The last wait ends at the deadline, so a
/// last try is made there.
#[derive(Debug, Clone)]
pub struct Backoff {
    schedule: Schedule,
    last: Option<Duration>,
    until: Instant,
    waits: u32,
}

impl Backoff {
    /// The next wait, twice the last one within the schedule and never past the deadline; `None` (and no wait
    /// counted) once the deadline has passed.
    pub fn next_wait(&mut self) -> Option<Duration> {
        let left = self.until.saturating_duration_since(now());
        if left.is_zero() {
            return None;
        }
        let next = match self.last {
            None => self.schedule.first,
            Some(d) => d
                .saturating_mul(2)
                .clamp(self.schedule.first, self.schedule.cap),
        };
        self.last = Some(next);
        self.waits += 1;
        Some(next.min(left))
    }

    /// How many waits were taken.
    pub fn waits(&self) -> u32 {
        self.waits
    }
}

/// Runs `op` until it succeeds or fails with an error that `passing` does not take for a passing state; a passing
/// failure is waited out on `backoff` while its deadline lasts, and `on_first_wait` is told of the first one.
/// Past the deadline the last error comes back.
pub async fn retry_while<T, F, Fut>(
    mut backoff: Backoff,
    passing: impl Fn(&Error) -> bool,
    mut on_first_wait: impl FnMut(&Error),
    op: F,
) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    loop {
        match op().await {
            Err(e) if passing(&e) => {
                let Some(d) = backoff.next_wait() else {
                    return Err(e);
                };
                if backoff.waits() == 1 {
                    on_first_wait(&e);
                }
                tracing::info!(wait = ?d, "waiting, then trying again: {e}");
                pause(d).await;
            }
            other => return other,
        }
    }
}

/// Runs `probe` until it finds something (`Some`) or `backoff`'s deadline passes (`None`); `on_first_wait` is
/// called before the first wait.
pub async fn poll_until<T, F, Fut>(
    mut backoff: Backoff,
    mut on_first_wait: impl FnMut(),
    probe: F,
) -> Result<Option<T>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    loop {
        if let Some(v) = probe().await? {
            return Ok(Some(v));
        }
        let Some(d) = backoff.next_wait() else {
            return Ok(None);
        };
        if backoff.waits() == 1 {
            on_first_wait();
        }
        pause(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const SECS: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn waits_double_from_the_first_to_the_cap_and_the_last_ends_at_the_deadline() {
        let mut b = Schedule::new(SECS(1), SECS(8)).within(SECS(3600));
        let waits: Vec<u64> = (0..6)
            .map(|_| b.next_wait().expect("time left").as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        assert_eq!(b.waits(), 6);
        let mut near = Schedule::new(SECS(60), SECS(60)).within(SECS(2));
        assert!(near.next_wait().expect("time left") <= SECS(2));
        let mut over = Schedule::every(SECS(1)).until(now());
        assert_eq!(over.next_wait(), None);
        assert_eq!(over.waits(), 0);
    }

    #[test]
    fn a_budget_too_large_for_the_clock_is_taken_as_no_deadline_not_a_panic() {
        let mut b = Schedule::every(SECS(1)).within(Duration::MAX);
        assert_eq!(b.next_wait(), Some(SECS(1)));
    }

    #[tokio::test]
    async fn retry_while_waits_out_a_passing_error_and_tells_of_the_first_wait_once() {
        let tries = Cell::new(0);
        let told = Cell::new(0);
        let got = retry_while(
            Schedule::every(Duration::from_millis(1)).within(SECS(60)),
            |e| matches!(e, Error::Unhealthy(1)),
            |_| told.set(told.get() + 1),
            || async {
                tries.set(tries.get() + 1);
                if tries.get() < 4 {
                    Err(Error::Unhealthy(1))
                } else {
                    Ok(tries.get())
                }
            },
        )
        .await
        .expect("passes");
        assert_eq!((got, told.get()), (4, 1));
        // An error that is not passing comes back at once, with no wait.
        let tries = Cell::new(0);
        let e = retry_while(
            Schedule::every(SECS(1)).within(SECS(60)),
            |_| false,
            |_| panic!("no wait for a lasting error"),
            || async {
                tries.set(tries.get() + 1);
                Err::<(), _>(Error::Unhealthy(2))
            },
        )
        .await;
        assert!(e.is_err());
        assert_eq!(tries.get(), 1);
    }

    #[tokio::test]
    async fn poll_until_gives_up_at_the_deadline_with_a_last_look_there() {
        let looks = Cell::new(0);
        let found: Option<()> = poll_until(
            Schedule::every(Duration::from_millis(1)).until(now()),
            || {},
            || async {
                looks.set(looks.get() + 1);
                Ok(None)
            },
        )
        .await
        .expect("no error");
        assert_eq!((found, looks.get()), (None, 1));
    }
}
