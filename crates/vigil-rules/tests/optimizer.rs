//! The optimiser (per-type specialisation, shared comparisons with memoisation, operand
//! reordering) must never change a result, and the kernel prefilters derived from the rules
//! must pass every event a rule matches. Each check loads the same rules twice, optimised
//! and as written (`LoadOptions::unoptimized`), evaluates both on the same events, and
//! compares the matched rules: for the upstream Falco files, the default rules, and
//! thousands of random rules built from a grammar of the comparisons, macros, lists and
//! event-type/direction tests that real rules use.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use vigil_event::{
    Dir, Event, EventType, FdInfo, FdKind, FlagSet, L4Proto, Param, ParamName, SockTuple, Value,
};
use vigil_rules::prefilter::OpenFacts;
use vigil_rules::{load, LoadOptions, RuleMatching, RuleSource, Ruleset};

/// Deterministic xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

struct Owned {
    etype: &'static str,
    dir: Dir,
    pid: u32,
    res: i64,
    params: Vec<Param<'static>>,
    fd: Option<FdInfo<'static>>,
}

impl Owned {
    fn event(&self) -> Event<'_> {
        Event {
            num: 1,
            ts: 3_000_000_000,
            etype: EventType::from_name(self.etype).expect("known type"),
            dir: self.dir,
            cpu: 0,
            tid: self.pid,
            pid: self.pid,
            res: self.res,
            params: &self.params,
            fd: self.fd,
            latency: 10,
        }
    }
}

/// Events of many types and both directions, from a process in a container (300), host
/// processes (100, 200) and an unknown one (999).
fn events() -> Vec<Owned> {
    let tuple = SockTuple {
        proto: L4Proto::Tcp,
        src_ip: IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2)),
        src_port: 40000,
        dst_ip: IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        dst_port: 80,
    };
    let mut out = Vec::new();
    let names = [
        "/etc/shadow",
        "/etc/passwd",
        "/usr/bin/evil",
        "/tmp/x",
        "/root/.ssh/id_rsa",
        "/proc/12/environ",
        "/var/log/syslog",
        "/dev/null",
        "/etc/../etc/shadow",
        "/home/u/.aws/credentials",
        // Names `pmatch` reads by components: relative (memfd), doubled slashes.
        "memfd:payload",
        "usr/bin/x",
        "/usr//bin/evil",
        "/etc/",
    ];
    for pid in [300, 200, 100, 999] {
        for (i, name) in names.iter().enumerate() {
            for etype in ["openat", "open", "openat2", "creat"] {
                for dir in [Dir::Exit, Dir::Enter] {
                    let flags = if i % 2 == 0 { 0o1101 } else { 0 };
                    let res = if i == 3 { -2 } else { 5 };
                    out.push(Owned {
                        etype,
                        dir,
                        pid,
                        res,
                        // creat(2) has no flags argument.
                        params: [
                            Param::new(ParamName::Fd, Value::Fd(res)),
                            Param::new(ParamName::Name, Value::Str(name)),
                            Param::new(ParamName::Flags, Value::Flags(flags, FlagSet::Open)),
                            Param::new(ParamName::Mode, Value::Mode(0o644)),
                        ]
                        .into_iter()
                        .filter(|p| etype != "creat" || p.name != ParamName::Flags)
                        .collect(),
                        fd: (res >= 0).then(|| FdInfo {
                            num: 5,
                            kind: if i == 7 {
                                FdKind::Unknown
                            } else {
                                FdKind::File
                            },
                            name,
                            nameraw: name,
                            ..FdInfo::default()
                        }),
                    });
                }
            }
        }
        for etype in [
            "execve", "execveat", "connect", "unlinkat", "ptrace", "mount",
        ] {
            for dir in [Dir::Exit, Dir::Enter] {
                for res in [0, -1] {
                    let net = etype == "connect";
                    out.push(Owned {
                        etype,
                        dir,
                        pid,
                        res,
                        params: if net {
                            vec![
                                Param::new(ParamName::Res, Value::Res(res)),
                                Param::new(ParamName::Tuple, Value::Tuple(tuple)),
                            ]
                        } else {
                            vec![
                                Param::new(ParamName::Res, Value::Res(res)),
                                Param::new(ParamName::Name, Value::Str("/tmp/x")),
                            ]
                        },
                        fd: net.then(|| FdInfo {
                            num: 4,
                            kind: FdKind::Ipv4,
                            tuple: Some(tuple),
                            ..FdInfo::default()
                        }),
                    });
                }
            }
        }
    }
    out
}

fn load_both(text: &str, matching: RuleMatching) -> Option<(Ruleset, Ruleset)> {
    let src = [RuleSource {
        name: "t.yaml".into(),
        text: text.to_string(),
    }];
    let opts = LoadOptions {
        rule_matching: matching,
        ..LoadOptions::default()
    };
    let fast = load(&src, &opts).ok()?.ruleset;
    let reference = load(
        &src,
        &LoadOptions {
            unoptimized: true,
            ..opts
        },
    )
    .expect("loads optimised, so loads as written")
    .ruleset;
    Some((fast, reference))
}

/// Panics if an open event that some rule matches would be stopped by the rules' kernel
/// prefilter; returns how many open events the prefilters stop.
fn check_prefilter(rs: &Ruleset, evs: &[Owned], what: &str) -> usize {
    let st = common::state();
    let mut scratch = rs.new_scratch();
    let mut matched = Vec::new();
    let mut stopped = 0;
    for o in evs.iter().filter(|o| o.dir == Dir::Exit) {
        let etype = EventType::from_name(o.etype).expect("known type");
        let Some(filter) = rs.open_prefilter(etype) else {
            continue;
        };
        let ev = o.event();
        // What the kernel sees: the access mode, success, the resolved path.
        let flags = match ev.param(ParamName::Flags) {
            Some(Value::Flags(f, _)) => *f,
            _ if o.etype == "creat" => 0o101,
            _ => 0,
        };
        let acc = flags & 3;
        // The kernel's walked path: absolute, no doubled slashes (memfd names are shown
        // without their leading slash in user space). Names no walk produces are skipped.
        let kernel_path = o.fd.map(|f| {
            if f.name.starts_with('/') {
                f.name.to_string()
            } else {
                format!("/{}", f.name)
            }
        });
        if kernel_path.as_deref().is_some_and(|p| p.contains("//")) {
            continue;
        }
        let raw = match ev.param(ParamName::Name) {
            Some(Value::Str(s)) => *s,
            _ => "",
        };
        let passes = filter.passes(&OpenFacts {
            write: acc == 1 || acc == 2,
            read: acc == 0 || acc == 2,
            ok: o.res >= 0,
            dotdot: raw.contains("../"),
            create: flags & 0o100 != 0,
            path: kernel_path.as_deref(),
        });
        matched.clear();
        rs.evaluate(&ev, &st, &mut scratch, &mut matched);
        assert!(
            passes || matched.is_empty(),
            "{what}: prefilter {filter:?} stops {} pid {} res {} {:?} that matches rules {matched:?}",
            o.etype,
            o.pid,
            o.res,
            o.params
        );
        stopped += !passes as usize;
    }
    stopped
}

/// Panics with the first event on which the two rulesets disagree; returns how many
/// (event, rule) matches there were.
fn compare(fast: &Ruleset, reference: &Ruleset, evs: &[Owned], what: &str) -> usize {
    let st = common::state();
    let (mut s1, mut s2) = (fast.new_scratch(), reference.new_scratch());
    let (mut m1, mut m2) = (Vec::new(), Vec::new());
    let mut total = 0;
    for o in evs {
        let ev = o.event();
        m1.clear();
        m2.clear();
        fast.evaluate(&ev, &st, &mut s1, &mut m1);
        reference.evaluate(&ev, &st, &mut s2, &mut m2);
        assert_eq!(
            m1, m2,
            "{what}: optimised and reference evaluation differ on {} {:?} pid {} res {} params {:?}",
            o.etype, o.dir, o.pid, o.res, o.params
        );
        total += m1.len();
    }
    total
}

fn corpus(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/falco-rules")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared beside the checkout is required)",
            p.display()
        )
    })
}

#[test]
fn real_rulesets_match_alike() {
    let evs = events();
    let default = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/default_rules.yaml"
    ))
    .unwrap();
    for (name, text) in [
        ("falco_rules.yaml", corpus("falco_rules.yaml")),
        (
            "falco-incubating_rules.yaml",
            corpus("falco-incubating_rules.yaml"),
        ),
        (
            "falco-sandbox_rules.yaml",
            corpus("falco-sandbox_rules.yaml"),
        ),
        ("default_rules.yaml", default),
    ] {
        for matching in [RuleMatching::All, RuleMatching::First] {
            let (fast, reference) = load_both(&text, matching).expect("real ruleset loads");
            compare(&fast, &reference, &evs, name);
            if matching == RuleMatching::All {
                check_prefilter(&fast, &evs, name);
            }
        }
    }
}

const ATOMS: &[&str] = &[
    "evt.type = openat",
    "evt.type in (open, openat, openat2)",
    "evt.type != execve",
    "evt.type in (execve, connect)",
    "evt.type = creat",
    "evt.dir = <",
    "evt.dir = >",
    "evt.dir != <",
    "evt.is_open_write = true",
    "evt.is_open_read = true",
    "evt.rawres = 0",
    "evt.rawres >= 0",
    "evt.failed = true",
    "fd.num >= 0",
    "fd.typechar = f",
    "fd.name = /etc/shadow",
    "fd.name startswith /etc/",
    "fd.name in (sensitive)",
    "fd.name pmatch (/usr/bin, /etc)",
    "fd.name glob '/proc/*/environ'",
    "fd.name glob '*/.aws/*'",
    "fd.name contains .ssh",
    "fd.nameraw contains '../'",
    "fd.directory in (/etc, /tmp)",
    "fd.filename = shadow",
    "fd.sip = 169.254.169.254",
    "fd.sport in (80, 443)",
    "proc.name in (shells)",
    "proc.name = cat",
    "proc.name startswith ca",
    "proc.pname = bash",
    "proc.aname[2] = sshd",
    "proc.aname = sshd",
    "proc.cmdline contains shadow",
    "proc.args icontains SHADOW",
    "proc.tty != 0",
    "container.id != host",
    "container.id = host",
    "container.privileged = true",
    "container.image.repository in ()",
    "user.name = root",
    "evt.arg.flags contains O_TRUNC",
    "proc.name exists",
    "proc.pname exists",
    "fd.name = val(proc.exepath)",
    "m_container",
    "m_open_write",
    "m_shell",
];

/// Open-event tests the prefilter can express, alone and combined.
const GUARDS: &[&str] = &[
    "m_open_write",
    "(evt.type in (open, openat) and fd.name startswith /etc/)",
    "(evt.type = openat and evt.is_open_read = true and fd.name in (sensitive))",
    "(m_open_write and fd.name pmatch (/usr/bin, /etc))",
    "(evt.type in (openat, creat) and (fd.directory = /tmp or fd.name glob '/proc/*/environ'))",
    "(evt.type = openat and not evt.is_open_write = true and fd.num >= 0)",
    "(evt.type = openat2 and evt.failed = true)",
    "(evt.type = openat and fd.nameraw contains \"../\" and fd.name startswith /etc/)",
    "(evt.type in (openat, creat) and (evt.type = creat or evt.arg.flags contains O_CREAT))",
    "(evt.type = openat and not evt.arg.flags contains O_CREAT and fd.filename in (shadow, x))",
    "(evt.type in (open, creat) and evt.is_open_create = true and fd.name glob '*/.ssh/id_rsa')",
];

fn random_condition(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.below(3) == 0 {
        return rng.pick(ATOMS).to_string();
    }
    match rng.below(4) {
        0 => format!("not {}", random_condition(rng, depth - 1)),
        1 | 2 => {
            let op = if rng.below(2) == 0 { "and" } else { "or" };
            let n = 2 + rng.below(3);
            let parts: Vec<String> = (0..n).map(|_| random_condition(rng, depth - 1)).collect();
            format!("({})", parts.join(&format!(" {op} ")))
        }
        _ => format!("({})", random_condition(rng, depth - 1)),
    }
}

#[test]
fn random_rules_match_alike() {
    let evs = events();
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let prelude = "\
- list: shells
  items: [bash, sh, cat]
- list: sensitive
  items: [/etc/shadow, /etc/sudoers]
- macro: m_container
  condition: (container.id != host and not proc.name startswith \"runc:[\")
- macro: m_open_write
  condition: (evt.type in (open, openat, openat2, creat) and evt.dir = < and evt.is_open_write = true and fd.num >= 0)
- macro: m_shell
  condition: proc.name in (shells)
";
    let mut matches = 0;
    let mut stopped = 0;
    for round in 0..300 {
        let mut text = prelude.to_string();
        // Half of the rounds put a kernel-testable guard in front, so that the prefilters
        // restrict something.
        let guarded = round % 4 < 2;
        for r in 0..8 {
            let mut cond = random_condition(&mut rng, 4);
            if guarded {
                cond = format!("{} and {cond}", rng.pick(GUARDS));
            }
            let cond = cond.replace('\'', "''");
            text.push_str(&format!(
                "- rule: r{r}\n  desc: d\n  condition: '{cond}'\n  output: o\n  priority: info\n"
            ));
        }
        let matching = if round % 2 == 0 {
            RuleMatching::All
        } else {
            RuleMatching::First
        };
        let Some((fast, reference)) = load_both(&text, matching) else {
            panic!("random rules did not load:\n{text}");
        };
        matches += compare(&fast, &reference, &evs, &format!("round {round}:\n{text}"));
        if matching == RuleMatching::All {
            stopped += check_prefilter(&fast, &evs, &format!("round {round}:\n{text}"));
        }
    }
    // And the prefilters must stop something, or they are not tested.
    assert!(stopped > 1000, "prefilters stopped only {stopped} events");
    // The grammar must produce rules that match sometimes, or the comparison says little.
    assert!(matches > 1000, "only {matches} matches in all rounds");
}
