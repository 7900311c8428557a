//! Rule-triggered responses run off the detection thread: a bounded queue to one worker
//! thread ([`Runner`]) and the dedupe of repeated responses to the same target in a storm
//! ([`Dedupe`]).
//!
//! The detection thread selects the responses of an alert (pure, microseconds), asks
//! [`Dedupe`] whether the same action ran for the same target moments ago, and hands a
//! [`Request`] to [`Runner::try_submit`], which never blocks: a full queue returns the request
//! to the caller, who counts and reports it (nothing is dropped silently). The worker carries
//! requests out in order with an [`crate::Executor`] and returns each as a [`Completed`]
//! (the report plus the timings from the triggering event), which the caller turns into an
//! alert. One worker, not a pool: responses to one container must not race each other (a
//! kill and a pause of the same cgroup), and a pool would only help when many containers are
//! acted on at once, which the queue absorbs.
//!
//! We rejected blocking the detection thread when the queue is full (an attacker who floods
//! a rule would then blind the sensor) and an unbounded queue (memory grows without limit in
//! exactly that storm).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::action::{ActionReport, RuleAction};

/// One response to carry out.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: RuleAction,
    /// The process the alert is about (host pid namespace).
    pub pid: u32,
    /// Other processes of the same container, for container-wide actions when `pid` is gone.
    pub others: Vec<u32>,
    /// The process name at the time of the alert (reported when /proc no longer has it).
    pub comm: String,
    pub container: Option<vigil_event::Container>,
    /// The rule whose alert selected the response.
    pub rule: String,
    /// The response's name or location ([`crate::ResponseRule::label`]).
    pub policy: String,
    /// The response's file:line:col.
    pub response: String,
    /// Its scope, described.
    pub scope: String,
    /// The triggering event's time and the alert's, ns since the Unix epoch.
    pub event_ns: u64,
    pub alert_ns: u64,
    /// When it was queued.
    pub queued: Instant,
}

/// A carried-out (or failed) request.
#[derive(Debug, Clone)]
pub struct Completed {
    pub request: Request,
    pub report: ActionReport,
    /// Time spent in the queue before the worker took it.
    pub queue_wait: Duration,
    /// When the action ended, ns since the Unix epoch.
    pub done_ns: u64,
}

impl Completed {
    /// From the triggering event to the end of the action.
    pub fn event_to_done(&self) -> Duration {
        Duration::from_nanos(self.done_ns.saturating_sub(self.request.event_ns))
    }

    /// From the triggering event to the effect (pause, stop: processes stopped or dead),
    /// which comes before the runtime's bookkeeping ends.
    pub fn event_to_effect(&self) -> Option<Duration> {
        let (l, e) = (self.report.latency?, self.report.effect?);
        Some(self.event_to_done().saturating_sub(l.saturating_sub(e)))
    }
}

/// Now, ns since the Unix epoch (alert times are wall-clock).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The bounded queue and its worker thread; see the module documentation.
pub struct Runner {
    tx: Option<SyncSender<Request>>,
    done: Receiver<Completed>,
    worker: Option<JoinHandle<()>>,
    /// Submitted and not yet completed.
    in_flight: Arc<AtomicU64>,
    dropped: u64,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl Runner {
    /// A worker that runs requests with `exec`, behind a queue of `capacity` requests.
    pub fn start(exec: crate::Executor, capacity: usize) -> std::io::Result<Runner> {
        Runner::start_with(capacity, move |r: &Request| {
            exec.respond(r.action, r.pid, &r.others, None, r.container.as_ref())
        })
    }

    /// As [`Runner::start`] with any function carrying requests out (tests).
    pub fn start_with(
        capacity: usize,
        mut run: impl FnMut(&Request) -> ActionReport + Send + 'static,
    ) -> std::io::Result<Runner> {
        let (tx, rx) = mpsc::sync_channel::<Request>(capacity.max(1));
        let (done_tx, done) = mpsc::channel();
        let in_flight = Arc::new(AtomicU64::new(0));
        let n = in_flight.clone();
        let worker = std::thread::Builder::new()
            .name("vigil-respond".into())
            .spawn(move || {
                // Ends once the sender is gone and the queue is empty.
                for request in rx {
                    let queue_wait = request.queued.elapsed();
                    let mut report = run(&request);
                    if report.target.comm.is_empty() {
                        report.target.comm = request.comm.clone();
                    }
                    let done_ns = unix_now_ns();
                    n.fetch_sub(1, Ordering::Relaxed);
                    let c = Completed {
                        request,
                        report,
                        queue_wait,
                        done_ns,
                    };
                    if done_tx.send(c).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Runner {
            tx: Some(tx),
            done,
            worker: Some(worker),
            in_flight,
            dropped: 0,
        })
    }

    /// Queues a request without blocking. A full queue (or a worker that died) gives the
    /// request back; it is counted in [`Runner::dropped`].
    pub fn try_submit(&mut self, request: Request) -> Result<(), Box<Request>> {
        let Some(tx) = &self.tx else {
            self.dropped += 1;
            return Err(Box::new(request));
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => {
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                self.dropped += 1;
                Err(Box::new(r))
            }
        }
    }

    /// Requests completed since the last call (never blocks).
    pub fn completed(&self) -> Vec<Completed> {
        self.done.try_iter().collect()
    }

    /// Requests given back because the queue was full, since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Requests queued or running.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Stops taking requests, lets the worker finish the queued ones for at most `timeout`,
    /// and returns what completed and how many were still queued or running.
    pub fn shutdown(&mut self, timeout: Duration) -> (Vec<Completed>, u64) {
        self.tx = None;
        let t0 = Instant::now();
        let mut out = Vec::new();
        while let Some(w) = &self.worker {
            out.extend(self.done.try_iter());
            if w.is_finished() {
                if let Some(w) = self.worker.take() {
                    let _ = w.join();
                }
                break;
            }
            if t0.elapsed() >= timeout {
                // Left running: it ends with the process.
                self.worker = None;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        out.extend(self.done.try_iter());
        (out, self.in_flight())
    }
}

/// What a response is deduplicated by: the action and its target (the container for
/// container-wide actions, the process too for `kill_process`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupeKey {
    pub action: RuleAction,
    pub container_id: String,
    /// 0 for container-wide actions.
    pub pid: u32,
}

impl DedupeKey {
    pub fn new(action: RuleAction, container_id: &str, pid: u32) -> DedupeKey {
        DedupeKey {
            action,
            container_id: container_id.to_string(),
            pid: if action == RuleAction::KillProcess {
                pid
            } else {
                0
            },
        }
    }
}

/// Whether a response runs or is a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// First for its key in the window: run it.
    Run,
    /// The same action for the same target was queued `since` ago; this is the `nth`
    /// duplicate in the window (1 = the first).
    Duplicate { since: Duration, nth: u64 },
}

struct Seen<T> {
    at: Instant,
    duplicates: u64,
    sample: T,
}

/// Windows that ended with more than one duplicate: what to report about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired<T> {
    pub key: DedupeKey,
    /// What the first request of the window was (for the report).
    pub sample: T,
    /// Duplicates after the first one (which was reported when it happened).
    pub unreported: u64,
}

/// Remembers, per [`DedupeKey`], when a response was last queued; a second one within
/// `window` is a duplicate. The window is fixed from the first request (a storm that lasts
/// longer than the window runs the action again once per window). At most `max` keys are
/// remembered: beyond that, new keys run undeduplicated (never a missed response).
pub struct Dedupe<T> {
    window: Duration,
    max: usize,
    seen: HashMap<DedupeKey, Seen<T>>,
}

impl<T: Clone> Dedupe<T> {
    pub fn new(window: Duration, max: usize) -> Dedupe<T> {
        Dedupe {
            window,
            max,
            seen: HashMap::new(),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether a response for `key` runs now; `sample` describes it when it does.
    pub fn check(&mut self, key: &DedupeKey, now: Instant, sample: impl FnOnce() -> T) -> Check {
        if let Some(s) = self.seen.get_mut(key) {
            let since = now.saturating_duration_since(s.at);
            if since < self.window {
                s.duplicates += 1;
                return Check::Duplicate {
                    since,
                    nth: s.duplicates,
                };
            }
        }
        if self.window.is_zero() || (self.seen.len() >= self.max && !self.seen.contains_key(key)) {
            return Check::Run;
        }
        // An older window of this key ends here; its unreported duplicates were already
        // returned by `expire` if it was called (the monitor calls it every loop).
        self.seen.insert(
            key.clone(),
            Seen {
                at: now,
                duplicates: 0,
                sample: sample(),
            },
        );
        Check::Run
    }

    /// Forgets `key` (its request was not queued, so later ones must not count as
    /// duplicates of it).
    pub fn forget(&mut self, key: &DedupeKey) {
        self.seen.remove(key);
    }

    /// Removes the windows that ended by `now`; returns those with duplicates not yet
    /// reported (all but the first).
    pub fn expire(&mut self, now: Instant) -> Vec<Expired<T>> {
        let window = self.window;
        let mut out = Vec::new();
        self.seen.retain(|k, s| {
            if now.saturating_duration_since(s.at) < window {
                return true;
            }
            if s.duplicates > 1 {
                out.push(Expired {
                    key: k.clone(),
                    sample: s.sample.clone(),
                    unreported: s.duplicates - 1,
                });
            }
            false
        });
        out
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{self, Outcome, Target};
    use std::sync::Mutex;

    fn request(action: RuleAction, pid: u32) -> Request {
        Request {
            action,
            pid,
            others: Vec::new(),
            comm: "sh".into(),
            container: None,
            rule: "r".into(),
            policy: "p".into(),
            response: "p.yaml:2:5".into(),
            scope: "all containers".into(),
            event_ns: unix_now_ns(),
            alert_ns: unix_now_ns(),
            queued: Instant::now(),
        }
    }

    fn done(r: &Request) -> ActionReport {
        let mut rep = action::skipped(
            r.action,
            Target {
                pid: r.pid,
                ..Default::default()
            },
            "x".into(),
            "test".into(),
        );
        rep.outcome = Outcome::Done;
        rep.latency = Some(Duration::from_millis(1));
        rep
    }

    #[test]
    fn dedupe_by_action_and_target_within_the_window() {
        let mut d: Dedupe<u32> = Dedupe::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        let kc = DedupeKey::new(RuleAction::KillContainer, "abc", 10);
        // Another process of the same container: same container-wide key.
        let kc2 = DedupeKey::new(RuleAction::KillContainer, "abc", 11);
        assert_eq!(kc, kc2);
        assert_eq!(d.check(&kc, t0, || 1), Check::Run);
        assert_eq!(
            d.check(&kc2, t0 + Duration::from_millis(5), || 2),
            Check::Duplicate {
                since: Duration::from_millis(5),
                nth: 1
            }
        );
        assert!(matches!(
            d.check(&kc, t0 + Duration::from_secs(1), || 3),
            Check::Duplicate { nth: 2, .. }
        ));
        assert!(matches!(
            d.check(&kc, t0 + Duration::from_secs(2), || 3),
            Check::Duplicate { nth: 3, .. }
        ));
        // kill_process is per process; other actions and containers are separate.
        let kp = DedupeKey::new(RuleAction::KillProcess, "abc", 10);
        let kp2 = DedupeKey::new(RuleAction::KillProcess, "abc", 11);
        assert_eq!(d.check(&kp, t0, || 4), Check::Run);
        assert_eq!(d.check(&kp2, t0, || 5), Check::Run);
        let other = DedupeKey::new(RuleAction::KillContainer, "def", 10);
        assert_eq!(d.check(&other, t0, || 6), Check::Run);
        assert!(d.expire(t0 + Duration::from_secs(5)).is_empty());
        // The window ends: the two duplicates after the first are reported once.
        let ex = d.expire(t0 + Duration::from_secs(10));
        assert_eq!(
            ex,
            vec![Expired {
                key: kc.clone(),
                sample: 1,
                unreported: 2
            }]
        );
        assert!(d.is_empty());
        assert_eq!(d.check(&kc, t0 + Duration::from_secs(11), || 7), Check::Run);
    }

    #[test]
    fn dedupe_forgets_unqueued_requests_and_stays_bounded() {
        let mut d: Dedupe<()> = Dedupe::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        let k = |c: &str| DedupeKey::new(RuleAction::IsolateNetwork, c, 1);
        assert_eq!(d.check(&k("a"), t0, || ()), Check::Run);
        d.forget(&k("a"));
        assert_eq!(d.check(&k("a"), t0, || ()), Check::Run);
        assert_eq!(d.check(&k("b"), t0, || ()), Check::Run);
        // Full: new keys run and are not remembered.
        assert_eq!(d.check(&k("c"), t0, || ()), Check::Run);
        assert_eq!(d.check(&k("c"), t0, || ()), Check::Run);
        assert_eq!(d.len(), 2);
        // Window zero: nothing is deduplicated.
        let mut z: Dedupe<()> = Dedupe::new(Duration::ZERO, 10);
        assert_eq!(z.check(&k("a"), t0, || ()), Check::Run);
        assert_eq!(z.check(&k("a"), t0, || ()), Check::Run);
    }

    #[test]
    fn full_queue_gives_requests_back_and_counts_them() {
        // The worker blocks on the first request until released.
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let g = gate.clone();
        let (started_tx, started) = mpsc::channel();
        let mut runner = Runner::start_with(2, move |r| {
            let _ = started_tx.send(());
            let _l = g.lock().unwrap();
            done(r)
        })
        .unwrap();
        assert!(runner
            .try_submit(request(RuleAction::KillProcess, 1))
            .is_ok());
        // The worker took the first one off the queue and waits on the gate.
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(runner
            .try_submit(request(RuleAction::KillProcess, 2))
            .is_ok());
        assert!(runner
            .try_submit(request(RuleAction::KillProcess, 3))
            .is_ok());
        let back = runner
            .try_submit(request(RuleAction::KillProcess, 4))
            .unwrap_err();
        assert_eq!(back.pid, 4);
        assert_eq!(runner.dropped(), 1);
        assert_eq!(runner.in_flight(), 3);
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        let (done, pending) = runner.shutdown(Duration::from_secs(5));
        assert_eq!(pending, 0);
        let pids: Vec<u32> = done.iter().map(|c| c.report.target.pid).collect();
        assert_eq!(pids, [1, 2, 3], "in order, all carried out");
        for c in &done {
            assert_eq!(c.report.outcome, Outcome::Done);
            assert_eq!(c.report.target.comm, "sh", "comm from the request");
            assert!(c.event_to_done() >= c.queue_wait);
            assert_eq!(c.event_to_effect(), None);
        }
        // The second waited for the first.
        assert!(done[1].queue_wait >= Duration::from_millis(40), "{done:?}");
    }

    #[test]
    fn timings_from_the_event() {
        let mut r = request(RuleAction::PauseContainer, 7);
        r.event_ns = 1_000_000_000;
        let mut rep = done(&r);
        rep.latency = Some(Duration::from_millis(300));
        rep.effect = Some(Duration::from_millis(2));
        let c = Completed {
            request: r,
            report: rep,
            queue_wait: Duration::ZERO,
            done_ns: 1_000_000_000 + 310_000_000,
        };
        assert_eq!(c.event_to_done(), Duration::from_millis(310));
        assert_eq!(c.event_to_effect(), Some(Duration::from_millis(12)));
    }
}
