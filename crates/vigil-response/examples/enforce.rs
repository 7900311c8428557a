//! Applies policy files to named podman containers and prints every report until killed:
//! `cargo run -p vigil-response --example enforce -- POLICY.yaml NAME...` (or
//! `cgroup:/sys/fs/cgroup/unified/DIR` for a bare cgroup)
//! (the `vigil policy enforce` subcommand does the same through the CLI).

use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((policy, names)) = args.split_first() else {
        eprintln!("usage: enforce POLICY.yaml NAME...");
        std::process::exit(2);
    };
    let files = match vigil_response::load_files(&[PathBuf::from(policy)]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut enf = match vigil_response::Enforcer::open(&files) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for n in names {
        // `cgroup:/sys/fs/cgroup/unified/DIR` applies to a bare cgroup (overhead runs).
        if let Some(dir) = n.strip_prefix("cgroup:") {
            use std::os::unix::fs::MetadataExt;
            let id = std::fs::metadata(dir).map(|m| m.ino()).unwrap_or(0);
            let c = vigil_event::Container {
                name: "bench".into(),
                ..Default::default()
            };
            match enf.container_started(id, &c) {
                Ok(p) => println!("applied {p:?} to {dir} (cgroup {id:#x})"),
                Err(e) => eprintln!("{dir}: {e}"),
            }
            continue;
        }
        match vigil_response::runtime::inspect(n)
            .and_then(|pc| enf.container_started_pid(pc.pid, &pc.container))
        {
            Ok((cg, p)) => println!("applied {p:?} to {n} (cgroup {cg:#x})"),
            Err(e) => eprintln!("{n}: {e}"),
        }
    }
    loop {
        enf.poll(|r| println!("{r}"));
        std::thread::sleep(Duration::from_millis(50));
    }
}
