//! `vigil policy`: validate, show and enforce enforcement policies (docs/policy.md).
//!
//! `validate` reports every error (file:line:col) and explains how overlapping policies
//! combine; `show` prints what the kernel will be given; `enforce` applies policies to named
//! podman containers and prints every action as a JSON line (the `vigil monitor --policy`
//! path does the same inside the monitor). The library does all the work; this file only
//! formats. We rejected a separate binary for enforcement: one CLI, one way to load policies.

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
    Enforce {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Container name or id (repeatable).
        #[arg(long = "container", short = 'c', required = true)]
        containers: Vec<String>,
        /// Stop after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Override every policy's mode (audit or enforce).
        #[arg(long)]
        mode: Option<vigil_response::Mode>,
    },
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Validate { files } => validate(&files),
        Command::Show { files } => show(&files),
        Command::Enforce {
            files,
            containers,
            duration,
            mode,
        } => enforce(&files, &containers, duration, mode),
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
        "ok: {} policies in {} file(s)",
        compiled.len(),
        parsed.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn show(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (_, compiled) = match load(files) {
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
        "kernel_time_ns": r.kernel_time_ns,
        "syscall": r.syscall.map(|s| s.0),
        "syscall_ret": r.syscall.map(|s| s.1),
    })
}

fn enforce(
    files: &[PathBuf],
    containers: &[String],
    duration: Option<f64>,
    mode: Option<vigil_response::Mode>,
) -> anyhow::Result<ExitCode> {
    let (parsed, _) = match load(files) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let mut enf =
        vigil_response::Enforcer::open(&parsed).context("loading the enforcement programs")?;
    if let Some(m) = mode {
        for (name, _) in enf.policy_names() {
            enf.set_mode(&name, m)?;
        }
    }
    for name in containers {
        let pc = vigil_response::runtime::inspect(name)?;
        if pc.pid == 0 {
            anyhow::bail!(
                "container {name} has no process (status {}): `podman init` or start it first",
                pc.status
            );
        }
        let (cg, applied) = enf
            .container_started_pid(pc.pid, &pc.container)
            .with_context(|| format!("applying policies to {name}"))?;
        println!(
            "{}",
            serde_json::json!({"applied": applied, "container": name, "cgroup_id": cg, "pid": pc.pid})
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let t0 = Instant::now();
    let limit = duration.map(Duration::from_secs_f64);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| t0.elapsed() < l) {
        let mut io_err = None;
        enf.poll(|r| {
            if let Err(e) = writeln!(out, "{}", report_json(&r)) {
                io_err = Some(e);
            }
        });
        if let Some(e) = io_err {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e).context("writing reports");
        }
        let _ = out.flush();
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = enf.stats();
    if stats.reports_lost > 0 || stats.paths_truncated > 0 {
        eprintln!(
            "vigil: {} reports lost (ring buffer full), {} paths longer than the kernel key",
            stats.reports_lost, stats.paths_truncated
        );
    }
    Ok(ExitCode::SUCCESS)
}
