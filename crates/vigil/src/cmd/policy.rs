//! `vigil policy`: validate, show and enforce enforcement policies (docs/policy.md).
//!
//! `validate` reports every error (file:line:col) and explains how overlapping policies
//! combine; `show` prints what the kernel will be given; `enforce` applies policies to named
//! podman containers (or bare cgroups) and prints every action as a JSON line (the `vigil
//! monitor --policy` path does the same inside the monitor); `respond` runs the files'
//! rule-triggered responses for Falco JSON alerts read from stdin (`vigil monitor --json |
//! vigil policy respond FILE`); `unpin` removes pinned enforcement. The library does all the
//! work; this file only formats. We rejected a separate binary for enforcement: one CLI, one
//! way to load policies.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use vigil_response::compile;

/// Subcommands of `vigil policy`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check policy files: every error with file:line:col, then precedence notes.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the policies as the kernel will enforce them.
    Show {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Apply policies to podman containers and print each action as a JSON line until
    /// interrupted (needs root). Use `podman init NAME` first to enforce from the entrypoint.
    /// SIGHUP re-reads the files (e.g. to switch a policy between audit and enforce).
    Enforce {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Container name or id (repeatable).
        #[arg(long = "container", short = 'c', required_unless_present = "cgroups")]
        containers: Vec<String>,
        /// A cgroup v2 directory to treat as a container named after its last component
        /// (repeatable), e.g. a systemd service's cgroup.
        #[arg(long = "cgroup", value_name = "DIR")]
        cgroups: Vec<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Override every policy's mode (audit or enforce).
        #[arg(long)]
        mode: Option<vigil_response::Mode>,
        /// Pin maps and programs under this bpffs directory so enforcement outlives this
        /// process (`vigil policy unpin` removes it; the next `--pin` run takes over).
        #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = DEFAULT_PIN)]
        pin: Option<PathBuf>,
    },
    /// Run the files' `responses` for Falco JSON alerts read from stdin (e.g. piped from
    /// `vigil monitor --json`); print each action as a JSON line (needs root).
    Respond {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Read alerts from this file instead of stdin.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Remove pinned enforcement (detaches the pinned programs, frees their maps).
    Unpin {
        #[arg(default_value = DEFAULT_PIN)]
        dir: PathBuf,
    },
}

const DEFAULT_PIN: &str = "/sys/fs/bpf/vigil";

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Validate { files } => validate(&files),
        Command::Show { files } => show(&files),
        Command::Enforce {
            files,
            containers,
            cgroups,
            duration,
            mode,
            pin,
        } => enforce(&files, &containers, &cgroups, duration, mode, pin),
        Command::Respond { files, input } => respond(&files, input.as_deref()),
        Command::Unpin { dir } => {
            let n = vigil_response::remove_pins(&dir)
                .with_context(|| format!("removing pins under {}", dir.display()))?;
            println!(
                "removed {n} pinned enforcement generation(s) under {}",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(
    files: &[PathBuf],
) -> Result<
    (
        Vec<vigil_response::PolicyFile>,
        Vec<compile::CompiledPolicy>,
    ),
    ExitCode,
> {
    let parsed = match vigil_response::load_files(files) {
        Ok(p) => p,
        Err(d) => {
            for e in &d.0 {
                eprintln!("error: {e}");
            }
            eprintln!("{} error(s); nothing was loaded", d.0.len());
            return Err(ExitCode::from(1));
        }
    };
    match compile::compile(&parsed) {
        Ok(c) => Ok((parsed, c)),
        Err(errs) => {
            for e in &errs {
                eprintln!("error: {e}");
            }
            eprintln!("{} error(s); nothing was loaded", errs.len());
            Err(ExitCode::from(1))
        }
    }
}

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (parsed, compiled) = match load(files) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let all: Vec<_> = parsed
        .iter()
        .flat_map(|f| f.policies.iter().cloned())
        .collect();
    for n in compile::precedence_notes(&all) {
        println!("note: {}: {}", n.location, n.message);
    }
    println!(
        "ok: {} policies, {} responses in {} file(s)",
        compiled.len(),
        parsed.iter().map(|f| f.responses.len()).sum::<usize>(),
        parsed.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn show(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (parsed, compiled) = match load(files) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    for c in &compiled {
        let p = &c.policy;
        println!("policy {} ({}) at {}", p.name, p.mode, p.location());
        println!("  scope: {}", p.scope.describe());
        println!(
            "  exec: {}",
            if c.exec_default_deny {
                "allow-list (everything else denied)"
            } else {
                "deny-list"
            }
        );
        for e in &c.paths {
            let text = String::from_utf8_lossy(&e.bytes).replace('\0', "$");
            println!("    {:?} {:?} {text}", e.kind, e.verdict);
        }
        println!(
            "  egress default: {}",
            if c.net_default_deny { "deny" } else { "allow" }
        );
        for n in &c.nets {
            let rules: Vec<String> = n
                .rules
                .iter()
                .map(|r| format!("{:?} proto={} ports={}-{}", r.verdict, r.proto, r.lo, r.hi))
                .collect();
            println!("    {}/{}: {}", n.addr, n.prefix, rules.join("; "));
        }
    }
    for r in parsed.iter().flat_map(|f| &f.responses) {
        let actions: Vec<&str> = r.actions.iter().map(|a| a.as_str()).collect();
        println!(
            "response at {}: rules {:?} tags {:?} min_priority {:?} scope {}: {}",
            r.location(),
            r.rules,
            r.tags,
            r.min_priority,
            r.scope.describe(),
            actions.join(", ")
        );
    }
    println!("(`$` marks the end of an exact path; other entries are prefixes)");
    Ok(ExitCode::SUCCESS)
}

fn report_json(r: &vigil_response::ActionReport) -> serde_json::Value {
    serde_json::json!({
        "action": r.action.as_str(),
        "origin": match r.origin { vigil_response::Origin::Kernel => "kernel", vigil_response::Origin::UserSpace => "user" },
        "policy": r.policy,
        "scope": r.scope,
        "reason": r.reason,
        "object": r.object,
        "outcome": r.outcome.to_string(),
        "enforced": r.outcome == vigil_response::Outcome::Done,
        "pid": r.target.pid,
        "tid": r.target.tid,
        "comm": r.target.comm,
        "cgroup_id": r.target.cgroup_id,
        "container_id": r.target.container_id,
        "container_name": r.target.container_name,
        "latency_us": r.latency.map(|l| l.as_micros() as u64),
        "effect_us": r.effect.map(|l| l.as_micros() as u64),
        "kernel_time_ns": r.kernel_time_ns,
        "syscall": r.syscall.map(|s| s.0),
        "syscall_ret": r.syscall.map(|s| s.1),
        "previous_run": r.previous_run,
    })
}

/// The first line of `enforce` and `respond`: what this kernel lets the enforcer do.
fn kernel_json(enf: &vigil_response::Enforcer) -> serde_json::Value {
    serde_json::json!({
        "network": enf.network_attached(),
        "unix_sockets": enf.unix_enforcement().to_string(),
        "pin_dir": enf.pin_dir().map(|p| p.display().to_string()),
    })
}

fn install_stop() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    Ok(stop)
}

/// Writes one JSON line; Ok(false) when the reader went away (broken pipe).
fn emit(out: &mut impl std::io::Write, v: &serde_json::Value) -> anyhow::Result<bool> {
    match writeln!(out, "{v}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing reports"),
    }
}

fn enforce(
    files: &[PathBuf],
    containers: &[String],
    cgroups: &[PathBuf],
    duration: Option<f64>,
    mode: Option<vigil_response::Mode>,
    pin: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use std::os::unix::fs::MetadataExt;
    let (parsed, _) = match load(files) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    // Resolve every target before loading anything: a typo must not leave a half-started
    // enforcer (or, with --pin, a pinned one) behind.
    let mut targets = Vec::new();
    for name in containers {
        let pc = vigil_response::runtime::inspect(name)?;
        if pc.pid == 0 {
            anyhow::bail!(
                "container {name} has no process (status {}): `podman init` or start it first",
                pc.status
            );
        }
        targets.push((name.clone(), pc));
    }
    let mut bare = Vec::new();
    for dir in cgroups {
        if !dir.join("cgroup.procs").exists() {
            anyhow::bail!("{} is not a cgroup directory", dir.display());
        }
        let id = std::fs::metadata(dir)
            .with_context(|| format!("stat {}", dir.display()))?
            .ino();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        bare.push((dir.clone(), id, name));
    }
    let opts = vigil_response::Options {
        pin,
        ..Default::default()
    };
    let mut enf = vigil_response::Enforcer::open_with(&parsed, opts)
        .context("loading the enforcement programs")?;
    let mut out = std::io::stdout().lock();
    emit(&mut out, &kernel_json(&enf))?;
    if let Some(m) = mode {
        for (name, _) in enf.policy_names() {
            enf.set_mode(&name, m)?;
        }
    }
    for (dir, id, name) in bare {
        let c = vigil_event::Container {
            id: format!("cgroup:{}", dir.display()),
            name: name.clone(),
            ..Default::default()
        };
        let applied = enf
            .container_started(id, &c)
            .with_context(|| format!("applying policies to {}", dir.display()))?;
        emit(
            &mut out,
            &serde_json::json!({"applied": applied, "container": name, "cgroup_id": id, "cgroup": dir.display().to_string()}),
        )?;
    }
    for (name, pc) in targets {
        // The container may have died since `podman inspect`: the error says so.
        let (cg, applied) = enf
            .container_started_pid(pc.pid, &pc.container)
            .with_context(|| format!("applying policies to {name}"))?;
        emit(
            &mut out,
            &serde_json::json!({"applied": applied, "container": name, "cgroup_id": cg, "pid": pc.pid}),
        )?;
    }
    let stop = install_stop()?;
    // SIGHUP re-reads the files: switch a policy between audit and enforce (or change it)
    // without a restart; an invalid file keeps the old policies in force.
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("installing signal handlers")?;
    let t0 = Instant::now();
    let limit = duration.map(Duration::from_secs_f64);
    'outer: while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| t0.elapsed() < l) {
        if hup.swap(false, Ordering::Relaxed) {
            let line = match reload(&mut enf, files, mode) {
                Ok(()) => serde_json::json!({"reloaded": enf
                    .policy_names()
                    .iter()
                    .map(|(n, m)| format!("{n}={m}"))
                    .collect::<Vec<_>>()}),
                Err(e) => {
                    eprintln!("vigil: reload failed, the previous policies stay in force: {e:#}");
                    serde_json::json!({"reload_failed": format!("{e:#}")})
                }
            };
            if !emit(&mut out, &line)? {
                break 'outer;
            }
        }
        let mut reports = Vec::new();
        enf.poll(|r| reports.push(report_json(&r)));
        for r in &reports {
            if !emit(&mut out, r)? {
                break 'outer;
            }
        }
        // Wakes as soon as the kernel reports (poll(2) on the ring buffer).
        enf.wait(Duration::from_millis(100));
    }
    let stats = enf.stats();
    if stats.reports_lost > 0 || stats.paths_truncated > 0 {
        eprintln!(
            "vigil: {} reports lost (ring buffer full), {} paths longer than the kernel key",
            stats.reports_lost, stats.paths_truncated
        );
    }
    if let Some(dir) = enf.pin_dir() {
        eprintln!(
            "vigil: enforcement stays pinned under {} (`vigil policy unpin` removes it)",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Re-reads and applies the policy files (all or nothing).
fn reload(
    enf: &mut vigil_response::Enforcer,
    files: &[PathBuf],
    mode: Option<vigil_response::Mode>,
) -> anyhow::Result<()> {
    let parsed = vigil_response::load_files(files).map_err(|d| anyhow::anyhow!("{d}"))?;
    enf.reload(&parsed)?;
    if let Some(m) = mode {
        for (name, _) in enf.policy_names() {
            enf.set_mode(&name, m)?;
        }
    }
    Ok(())
}

/// Now, in nanoseconds since the Unix epoch (alert times are wall-clock).
fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `vigil policy respond`: alerts in, responses out (see the module doc).
fn respond(files: &[PathBuf], input: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    use std::collections::HashMap;
    use std::io::BufRead;
    use vigil_response::respond::{parse_alert, select};
    let (parsed, _) = match load(files) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let responses: Vec<vigil_response::ResponseRule> = parsed
        .iter()
        .flat_map(|f| f.responses.iter().cloned())
        .collect();
    if responses.is_empty() {
        anyhow::bail!("the policy files have no `responses`: nothing to respond with");
    }
    let labels_needed = vigil_response::respond::needs_labels(&responses);
    let reader: Box<dyn BufRead + Send> = match input {
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
    };
    // Policies in the same files are enforced too (they share the kernel programs that
    // `isolate_network` needs), but no container is selected for them here.
    let mut enf =
        vigil_response::Enforcer::open(&parsed).context("loading the enforcement programs")?;
    let mut out = std::io::stdout().lock();
    emit(&mut out, &kernel_json(&enf))?;
    let (tx, rx) = std::sync::mpsc::channel::<(String, u64)>();
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send((line, unix_now_ns())).is_err() {
                break;
            }
        }
    });
    let stop = install_stop()?;
    // Short container id -> metadata (None: podman does not know it).
    let mut containers: HashMap<String, Option<vigil_response::runtime::PodmanContainer>> =
        HashMap::new();
    let (mut alerts, mut bad, mut acted) = (0u64, 0u64, 0u64);
    let mut eof = false;
    while !stop.load(Ordering::Relaxed) && !eof {
        let (line, received_ns) = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(x) => x,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let mut reports = Vec::new();
                enf.poll(|r| reports.push(report_json(&r)));
                for r in &reports {
                    emit(&mut out, r)?;
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                eof = true;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let alert = match parse_alert(&line) {
            Ok(a) => a,
            Err(e) => {
                bad += 1;
                if bad <= 5 {
                    eprintln!("vigil: skipping input line: {e}");
                }
                continue;
            }
        };
        alerts += 1;
        if !alert.in_container() {
            continue;
        }
        // The alert names the container; ask the runtime only for what it lacks (labels, or
        // a process when the alert has no pid): `podman inspect` costs 50-300 ms.
        let from_alert = alert
            .container()
            .filter(|_| !labels_needed && alert.pid.is_some());
        let inspected = if from_alert.is_some() {
            None
        } else {
            containers
                .entry(alert.container_id.clone())
                .or_insert_with(|| vigil_response::runtime::inspect(&alert.container_id).ok())
                .clone()
        };
        let (container, init_pid) = match (from_alert, inspected) {
            (Some(c), _) => (Some(c), 0),
            (None, Some(pc)) => (Some(pc.container), pc.pid),
            (None, None) => (None, 0),
        };
        let chosen = select(&responses, &alert, container.as_ref());
        if chosen.is_empty() {
            continue;
        }
        let container = container.expect("select needs a container");
        for (action, rule) in chosen {
            // Container-wide actions can use the container's init when the alert has no pid.
            let pid = match (alert.pid, action) {
                (Some(p), _) => p,
                (None, vigil_response::RuleAction::KillProcess) => 0,
                (None, _) => init_pid,
            };
            let r = enf.respond(action, pid, None, Some(&container));
            let done_ns = unix_now_ns();
            acted += 1;
            let mut v = report_json(&r);
            v["rule"] = alert.rule.clone().into();
            v["response"] = rule.location().into();
            v["alert_to_done_us"] = alert
                .time_ns
                .map(|t| done_ns.saturating_sub(t) / 1000)
                .into();
            v["received_to_done_us"] = (done_ns.saturating_sub(received_ns) / 1000).into();
            // When the effect (frozen, all dead) came before the runtime's bookkeeping.
            if let (Some(t), Some(l), Some(e)) = (alert.time_ns, r.latency, r.effect) {
                let effect_ns = done_ns.saturating_sub((l - e).as_nanos() as u64);
                v["alert_to_effect_us"] = (effect_ns.saturating_sub(t) / 1000).into();
            }
            if !emit(&mut out, &v)? {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    // Kernel reports (e.g. connects refused by an isolation) still queued.
    let mut reports = Vec::new();
    enf.poll(|r| reports.push(report_json(&r)));
    for r in &reports {
        emit(&mut out, r)?;
    }
    eprintln!("vigil: {alerts} alerts read, {acted} actions taken, {bad} lines skipped");
    Ok(ExitCode::SUCCESS)
}
