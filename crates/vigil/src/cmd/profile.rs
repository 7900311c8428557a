//! `vigil profile`: least privilege from observation. `record` watches containers with the
//! eBPF sensor and writes a behaviour profile; `seccomp`, `rules` and `policy` turn a profile
//! into a seccomp profile, drift rules and an enforcement policy; `diff` compares two.
//!
//! Recording switches the kernel's per-cgroup syscall bitmap on for each target cgroup (the
//! syscall set costs one map update per syscall in the container, nothing elsewhere) and asks
//! the sensor for the few event types the file/network/exec baseline needs. `--wait-for`
//! starts at the first process seen in a new container cgroup, before the entrypoint, and
//! keeps it only once the runtime metadata says the name matches; we rejected polling
//! `podman inspect` for the id (the container may start and finish between two polls).

use super::live::{self, Signals};
use anyhow::{bail, Context};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_event::{EventType, ParamName, Value};
use vigil_profile::model::{Instance, Profile, Workload};
use vigil_profile::recorder::is_runtime_comm;
use vigil_profile::{policy, rules, seccomp, Recorder};

/// `vigil profile` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Record containers' behaviour into a profile (needs root).
    Record(RecordArgs),
    /// Generate an OCI/Docker seccomp profile (JSON) from a profile.
    Seccomp {
        profile: PathBuf,
        /// Output file (default: stdout).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Workload to use when the profile has several.
        #[arg(long)]
        workload: Option<String>,
        /// Generate even from a recording that missed the container's start or saw it fail
        /// (never from an empty one). The profile may then break the container.
        #[arg(long)]
        allow_partial: bool,
        /// Runtime default profile to compare the size with.
        #[arg(long, default_value = "/usr/share/containers/seccomp.json")]
        compare_with: PathBuf,
    },
    /// Generate Falco-format drift rules (load with `vigil monitor -r`).
    Rules {
        profile: PathBuf,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Generate an enforcement policy (`vigil policy` format).
    Policy {
        profile: PathBuf,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Mode written into the policy.
        #[arg(long, default_value = "audit", value_parser = ["audit", "enforce"])]
        mode: String,
    },
    /// Show what changed between two recordings (exit 1 when something did).
    Diff { old: PathBuf, new: PathBuf },
}

/// Arguments of `vigil profile record`.
#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// Running container to record, by name or id prefix (repeatable).
    #[arg(long = "container", short = 'c', value_name = "NAME|ID")]
    containers: Vec<String>,
    /// Wait for a container with this name to start and record it from its first process
    /// (repeatable). Start vigil first, then the container.
    #[arg(long = "wait-for", value_name = "NAME")]
    wait_for: Vec<String>,
    /// Record every running container with this label (KEY=VALUE, repeatable: all must
    /// match); replicas are merged into one workload per image.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Record every running container of this Kubernetes namespace; replicas are merged into
    /// one workload per pod container name.
    #[arg(long = "k8s-namespace", value_name = "NS")]
    k8s_namespace: Option<String>,
    /// Seconds to record (default: until SIGINT/SIGTERM or every recorded container exited).
    #[arg(long, short = 'd')]
    duration: Option<f64>,
    /// Longest wait for a `--wait-for` container to appear, seconds.
    #[arg(long, default_value_t = 120.0)]
    wait_timeout: f64,
    /// Output profile file.
    #[arg(short = 'o', long, required = true)]
    output: PathBuf,
    /// Learn only the syscall set (no file/network/exec events from the sensor).
    #[arg(long)]
    syscalls_only: bool,
    /// Size of the kernel ring buffer in MiB.
    #[arg(long, default_value_t = 16)]
    ring_buffer_mb: u32,
}

/// Syscalls whose events the recorder learns from.
const EVENT_TYPES: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "chmod",
    "fchmodat",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "socket",
    "connect",
    "bind",
    "listen",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "ptrace",
    "init_module",
    "finit_module",
    "bpf",
];

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Record(a) => record(a),
        Command::Seccomp {
            profile,
            output,
            workload,
            allow_partial,
            compare_with,
        } => seccomp_cmd(
            &profile,
            output.as_deref(),
            workload.as_deref(),
            allow_partial,
            &compare_with,
        ),
        Command::Rules { profile, output } => rules_cmd(&profile, output.as_deref()),
        Command::Policy {
            profile,
            output,
            mode,
        } => policy_cmd(&profile, output.as_deref(), &mode),
        Command::Diff { old, new } => {
            let a = Profile::load(&old)?;
            let b = Profile::load(&new)?;
            let (text, changed) = vigil_profile::diff::render(&vigil_profile::diff::diff(&a, &b));
            print!("{text}");
            Ok(if changed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Writes `text` to `path` atomically (temporary file + rename), or to stdout.
fn write_output(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("cannot write to stdout"),
            }
        }
        Some(p) => {
            let tmp = p.with_extension("vigil-tmp");
            std::fs::write(&tmp, text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("cannot write {}", p.display()))
        }
    }
}

fn seccomp_cmd(
    path: &Path,
    output: Option<&Path>,
    workload: Option<&str>,
    allow_partial: bool,
    compare_with: &Path,
) -> anyhow::Result<ExitCode> {
    let profile = Profile::load(path)?;
    let w = profile
        .workload(workload)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Err(refusal) = seccomp::check(w) {
        let forced = allow_partial && refusal.overridable;
        let verb = if forced {
            "warning"
        } else {
            "refusing to generate a seccomp profile"
        };
        eprintln!(
            "vigil: {verb}: workload '{}' in {}:",
            w.name,
            path.display()
        );
        for r in &refusal.reasons {
            eprintln!("  - {r}");
        }
        if !forced {
            if refusal.overridable {
                eprintln!(
                    "  (--allow-partial generates it anyway; the container may then fail under it)"
                );
            }
            return Ok(ExitCode::from(1));
        }
    }
    let allowed = seccomp::allowed_syscalls(w);
    let json = seccomp::profile_json(&allowed, &w.name);
    let text = serde_json::to_string_pretty(&json).context("serialise seccomp profile")? + "\n";
    write_output(output, &text)?;
    match std::fs::read_to_string(compare_with)
        .map_err(|e| e.to_string())
        .and_then(|t| seccomp::count_default(&t))
    {
        Ok(d) => {
            let pct = 100.0 * (1.0 - allowed.len() as f64 / d.allowed.max(1) as f64);
            eprintln!(
                "vigil: seccomp profile for '{}': {} syscalls allowed ({} recorded + runtime tail); runtime default {} allows {} ({} unconditionally): {pct:.0}% fewer",
                w.name,
                allowed.len(),
                w.syscalls.len(),
                compare_with.display(),
                d.allowed,
                d.unconditional
            );
        }
        Err(e) => eprintln!(
            "vigil: seccomp profile for '{}': {} syscalls allowed (no comparison: {}: {e})",
            w.name,
            allowed.len(),
            compare_with.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn rules_cmd(path: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let profile = Profile::load(path)?;
    if profile.workloads.is_empty() {
        bail!(
            "{}: the profile has no workloads (nothing was recorded)",
            path.display()
        );
    }
    let text = rules::drift_rules(&profile, &path.display().to_string());
    // Never hand out rules the engine cannot load.
    let src = vigil_rules::RuleSource {
        name: "generated drift rules".into(),
        text: text.clone(),
    };
    if let Err(d) = vigil_rules::load(&[src], &vigil_rules::LoadOptions::default()) {
        bail!("internal error: generated drift rules do not load:\n{d}");
    }
    write_output(output, &text)?;
    Ok(ExitCode::SUCCESS)
}

fn policy_cmd(path: &Path, output: Option<&Path>, mode: &str) -> anyhow::Result<ExitCode> {
    let profile = Profile::load(path)?;
    if profile.workloads.is_empty() {
        bail!(
            "{}: the profile has no workloads (nothing was recorded)",
            path.display()
        );
    }
    let mode = if mode == "enforce" {
        policy::PolicyMode::Enforce
    } else {
        policy::PolicyMode::Audit
    };
    let text = policy::policy_yaml(&profile, &path.display().to_string(), mode);
    if let Err(d) = vigil_response::parse_str(Path::new("generated policy"), &text) {
        bail!("internal error: generated policy does not validate:\n{d}");
    }
    write_output(output, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// One container being recorded.
struct Target {
    id: String,
    name: String,
    image: String,
    /// Workload key replicas are merged under.
    workload: String,
    cgroups: HashSet<u64>,
    recorder: Recorder,
    from_start: bool,
    started: Instant,
    ended: Option<Instant>,
    live: HashSet<u32>,
    seen_process: bool,
    last_exit: Option<i64>,
}

impl Target {
    fn new(id: &str, workload: String, from_start: bool) -> Target {
        Target {
            id: id.to_string(),
            name: String::new(),
            image: String::new(),
            workload,
            cgroups: HashSet::new(),
            recorder: if from_start {
                Recorder::new()
            } else {
                Recorder::attached()
            },
            from_start,
            started: Instant::now(),
            ended: None,
            live: HashSet::new(),
            seen_process: false,
            last_exit: None,
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn parse_labels(labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("--label {l}: expected KEY=VALUE"),
        })
        .collect()
}

fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    if args.containers.is_empty()
        && args.wait_for.is_empty()
        && args.labels.is_empty()
        && args.k8s_namespace.is_none()
    {
        bail!("say what to record: --container NAME, --wait-for NAME, --label KEY=VALUE or --k8s-namespace NS");
    }
    if args.duration.is_some_and(|d| d.is_nan() || d <= 0.0) {
        bail!("--duration must be a positive number of seconds");
    }
    let labels = parse_labels(&args.labels)?;
    let selector_mode = !labels.is_empty() || args.k8s_namespace.is_some();
    let signals = Signals::install()?;
    let mut sensor = live::open_sensor(live::SensorOptions::ring(args.ring_buffer_mb))?;
    let types: Vec<EventType> = if args.syscalls_only {
        Vec::new()
    } else {
        EVENT_TYPES
            .iter()
            .filter_map(|n| EventType::from_name(n))
            .collect()
    };
    sensor
        .set_event_types(types)
        .context("cannot program the kernel-side event filter")?;
    let mut state = live::open_state(Duration::from_millis(300))?;
    let started_at = SystemTime::now();
    let t0 = Instant::now();

    let mut targets: Vec<Target> = Vec::new();
    let mut by_cgroup: HashMap<u64, usize> = HashMap::new();

    // Attach to running containers.
    if !args.containers.is_empty() || selector_mode {
        let mut running: BTreeMap<String, HashSet<u64>> = BTreeMap::new();
        for p in state.table().iter().filter(|p| p.in_container()) {
            // Processes seeded from /proc carry no cgroup id yet: read it as the kernel keys it.
            let cg = if p.cgroup_id != 0 {
                p.cgroup_id
            } else {
                match vigil_response::cgroup::locate(
                    Path::new("/proc"),
                    Path::new("/sys/fs/cgroup"),
                    p.pid,
                ) {
                    Ok(loc) => loc.id,
                    Err(_) => continue, // exited meanwhile
                }
            };
            running
                .entry(p.container_id.clone())
                .or_default()
                .insert(cg);
        }
        for (id, cgroups) in &running {
            let _ = state.wait_container(id, Duration::from_secs(3));
            // A fast partial record (name, image) may come first; selectors need the labels
            // of the complete one.
            let until = Instant::now() + Duration::from_secs(5);
            while selector_mode
                && Instant::now() < until
                && state
                    .containers()
                    .get(id)
                    .is_some_and(|c| !c.metadata_complete)
            {
                state.poll();
                std::thread::sleep(Duration::from_millis(50));
            }
            let Some(c) = state.containers().get(id).cloned() else {
                continue;
            };
            let by_name = args
                .containers
                .iter()
                .any(|n| *n == c.name || (n.len() >= 3 && id.starts_with(n.as_str())));
            let k8s = c.k8s.clone().unwrap_or_default();
            let by_selector = selector_mode
                && labels
                    .iter()
                    .all(|(k, v)| c.labels.get(k) == Some(v) || k8s.pod_labels.get(k) == Some(v))
                && args
                    .k8s_namespace
                    .as_ref()
                    .is_none_or(|ns| *ns == k8s.namespace);
            if !by_name && !by_selector {
                continue;
            }
            let key = if by_name || !selector_mode {
                c.name.clone()
            } else if !k8s.container_name.is_empty() {
                format!("{}/{}", k8s.namespace, k8s.container_name)
            } else {
                c.image_repository.clone()
            };
            let mut t = Target::new(id, key, false);
            t.name = c.name.clone();
            t.image = c.image_repository.clone();
            t.seen_process = true;
            for &cg in cgroups {
                sensor
                    .record_cgroup(cg)
                    .with_context(|| format!("cannot record cgroup {cg}"))?;
                t.cgroups.insert(cg);
                by_cgroup.insert(cg, targets.len());
            }
            for p in state.table().iter().filter(|p| p.container_id == *id) {
                t.live.insert(p.pid);
            }
            eprintln!(
                "vigil: recording running container {} ({}) as workload '{}'",
                c.name,
                &id[..12.min(id.len())],
                t.workload
            );
            targets.push(t);
        }
        for n in &args.containers {
            if !targets
                .iter()
                .any(|t| t.name == *n || (n.len() >= 3 && t.id.starts_with(n.as_str())))
            {
                bail!("no running container is called or has an id starting with '{n}' (to record a container from its start, use --wait-for NAME and start it after vigil)");
            }
        }
        if selector_mode && targets.is_empty() && args.wait_for.is_empty() {
            bail!(
                "no running container matches the selector ({})",
                describe_selector(&labels, args.k8s_namespace.as_deref())
            );
        }
        eprintln!("vigil: note: containers that were already running are recorded from now on; their start-up was missed (a seccomp profile from this recording needs --allow-partial)");
    }

    // Containers seen starting, not yet matched by name: container id -> target.
    let mut pending: HashMap<String, Target> = HashMap::new();
    let mut rejected: HashSet<String> = HashSet::new();
    let mut waiting: Vec<String> = args.wait_for.clone();
    if !waiting.is_empty() {
        eprintln!(
            "vigil: waiting for container(s) {} to start (recording begins at their first process)",
            waiting.join(", ")
        );
    }
    let wait_deadline = t0 + Duration::from_secs_f64(args.wait_timeout.max(0.1));
    // With --wait-for, --duration counts from the moment the last awaited container started.
    let mut deadline = if waiting.is_empty() {
        args.duration.map(|d| t0 + Duration::from_secs_f64(d))
    } else {
        None
    };
    let mut all_ended_at: Option<Instant> = None;
    let mut poll_err = None;
    // Cgroups to switch recording on for; the poll closure cannot borrow the sensor, so they
    // are applied right after each batch (the runtime tail covers that delay, see seccomp.rs).
    let mut record_requests: Vec<u64> = Vec::new();

    loop {
        if signals.stopping() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if !waiting.is_empty() && Instant::now() >= wait_deadline {
            bail!(
                "container(s) {} did not start within {:.0} s; nothing was written",
                waiting.join(", "),
                args.wait_timeout
            );
        }
        let polled = sensor.poll(Duration::from_millis(100), |ev| {
            state.before(ev);
            let proc_ = state.table().get(ev.pid);
            let cg = match ev.param(ParamName::CgroupId) {
                Some(Value::U64(c)) => *c,
                _ => proc_.map(|p| p.cgroup_id).unwrap_or(0),
            };
            let is_new_proc = ev.etype.name().starts_with("clone")
                || matches!(ev.etype.name(), "fork" | "vfork" | "execve" | "execveat");
            // A new container cgroup: start recording at once, match the name later.
            if !waiting.is_empty() && is_new_proc && cg != 0 && !by_cgroup.contains_key(&cg) {
                if let Some(p) = proc_.filter(|p| p.in_container()) {
                    let cid = p.container_id.clone();
                    if !rejected.contains(&cid) {
                        let t = pending
                            .entry(cid.clone())
                            .or_insert_with(|| Target::new(&cid, String::new(), true));
                        if t.cgroups.insert(cg) {
                            record_requests.push(cg);
                        }
                    }
                }
            }
            let comm = proc_.map(|p| p.comm.as_str()).unwrap_or("");
            let target = match by_cgroup.get(&cg) {
                Some(&i) => Some(&mut targets[i]),
                None => proc_
                    .filter(|p| p.in_container())
                    .and_then(|p| pending.get_mut(&p.container_id))
                    .filter(|t| t.cgroups.contains(&cg)),
            };
            if let Some(t) = target {
                t.recorder.observe(ev, comm);
                if is_new_proc && ev.res == 0 {
                    t.live.insert(ev.pid);
                    t.seen_process = true;
                }
                if ev.etype == EventType::PROCEXIT {
                    t.live.remove(&ev.pid);
                    if !is_runtime_comm(comm) || t.last_exit.is_none() {
                        if let Some(Value::I64(s)) = ev.param(ParamName::Status) {
                            t.last_exit = Some(*s);
                        }
                    }
                    if t.live.is_empty() && t.seen_process && t.ended.is_none() {
                        t.ended = Some(Instant::now());
                    }
                }
            }
            state.after(ev);
        });
        if let Err(e) = polled {
            poll_err = Some(e);
            break;
        }
        // The closure cannot borrow the sensor; apply recording requests here.
        for cg in record_requests.drain(..) {
            sensor
                .record_cgroup(cg)
                .with_context(|| format!("cannot record cgroup {cg}"))?;
        }
        state.poll();
        // Resolve pending containers by name.
        let ids: Vec<String> = pending.keys().cloned().collect();
        for id in ids {
            // The name decides; wait for the complete record (for the image) unless the
            // lookup is over: a container that failed at once and was removed before its
            // lookup still has the name its runtime announced (vigil_state::hints).
            let settled = state.containers().settled(&id);
            let Some(c) = state
                .containers()
                .get(&id)
                .filter(|c| c.metadata_complete || (settled && !c.name.is_empty()))
                .cloned()
            else {
                continue;
            };
            let Some(mut t) = pending.remove(&id) else {
                continue;
            };
            if let Some(pos) = waiting
                .iter()
                .position(|n| *n == c.name || (n.len() >= 3 && id.starts_with(n.as_str())))
            {
                waiting.remove(pos);
                t.name = c.name.clone();
                t.image = c.image_repository.clone();
                t.workload = c.name.clone();
                for &cg in &t.cgroups {
                    by_cgroup.insert(cg, targets.len());
                }
                eprintln!(
                    "vigil: container {} ({}) started; recording from its first process",
                    c.name,
                    &id[..12.min(id.len())]
                );
                if waiting.is_empty() {
                    deadline = args
                        .duration
                        .map(|d| Instant::now() + Duration::from_secs_f64(d));
                }
                targets.push(t);
            } else {
                rejected.insert(id);
            }
        }
        // Stop once every recorded container has ended (and none is awaited).
        if waiting.is_empty() && !targets.is_empty() && targets.iter().all(|t| t.ended.is_some()) {
            let at = *all_ended_at.get_or_insert_with(Instant::now);
            if at.elapsed() > Duration::from_millis(300) {
                break;
            }
        }
    }
    if let Some(e) = poll_err {
        bail!("reading events failed: {e}");
    }
    if !waiting.is_empty() {
        bail!(
            "stopped before container(s) {} started; nothing was written",
            waiting.join(", ")
        );
    }
    let stats = sensor.stats();
    let mut profile = Profile {
        version: vigil_profile::FORMAT_VERSION,
        generated_by: format!("vigil {}", env!("CARGO_PKG_VERSION")),
        recorded_at: rfc3339(started_at),
        duration_secs: (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        arch: "x86_64".into(),
        lost_events: stats.lost(),
        workloads: Vec::new(),
    };
    for t in targets {
        let mut syscalls: Vec<EventType> = Vec::new();
        for &cg in &t.cgroups {
            syscalls.extend(
                sensor
                    .cgroup_syscalls(cg)
                    .with_context(|| format!("cannot read the syscall set of cgroup {cg}"))?,
            );
        }
        syscalls.sort();
        syscalls.dedup();
        let end = t.ended.unwrap_or_else(Instant::now);
        let recorded_secs = end.duration_since(t.started).as_secs_f64();
        let mut exited = t.recorder.exit().cloned();
        if exited.is_none() && t.ended.is_some() {
            exited = Some(vigil_profile::model::Exit {
                status: t.last_exit.unwrap_or(0),
                after_secs: recorded_secs,
            });
        }
        if let Some(e) = &exited {
            let how = if e.status == 0 {
                "exited".to_string()
            } else {
                format!("exited with status {}", e.status)
            };
            eprintln!(
                "vigil: container {} {how} after {:.1} s of recording",
                t.name, e.after_secs
            );
        }
        if t.recorder.execs() == 0 {
            eprintln!("vigil: warning: container {} never started a program of its own (no exec outside the runtime was seen)", t.name);
        }
        let instance = Instance {
            id: t.id.clone(),
            name: t.name.clone(),
            image: t.image.clone(),
            from_start: t.from_start,
            recorded_secs: (recorded_secs * 10.0).round() / 10.0,
            exited,
        };
        let w = t.recorder.finish(&t.workload, instance, &syscalls);
        match profile
            .workloads
            .iter_mut()
            .find(|x: &&mut Workload| x.name == w.name)
        {
            Some(x) => x.merge(&w),
            None => profile.workloads.push(w),
        }
    }
    if selector_mode && args.containers.is_empty() && args.wait_for.is_empty() {
        // Replicas come and go: scope the generated rules and policy by the selector and the
        // image, not by the names of the replicas that happened to be recorded.
        for w in &mut profile.workloads {
            w.scope.names.clear();
            w.scope.labels = labels.clone();
            w.scope.k8s_namespaces = args.k8s_namespace.iter().cloned().collect();
        }
    }
    write_output(Some(&args.output), &profile.to_yaml())?;
    for w in &profile.workloads {
        eprintln!(
            "vigil: workload '{}': {} syscalls, {} executables, {} write paths, {} listeners, {} destinations, {} capabilities ({} instance(s))",
            w.name,
            w.syscalls.len(),
            w.exec.len(),
            w.files.write.len(),
            w.network.listen.len(),
            w.network.connect.len(),
            w.capabilities.len(),
            w.instances.len()
        );
    }
    if stats.lost() > 0 {
        eprintln!("vigil: warning: {} events were lost in the kernel during recording; the file/network baseline may be incomplete (the syscall set is not affected)", stats.lost());
    }
    eprintln!("vigil: profile written to {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

fn describe_selector(labels: &BTreeMap<String, String>, ns: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("label {k}={v}"))
        .collect();
    if let Some(ns) = ns {
        parts.push(format!("k8s namespace {ns}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
        // A leap day (2024-02-29 12:00:00 UTC), checked against `date -u -d @1709208000`.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_208_000)),
            "2024-02-29T12:00:00Z"
        );
    }
}
