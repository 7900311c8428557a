//! A container controls its own `/etc/passwd`: symlinks out of its tree, a symlinked file, or
//! a FIFO must neither leak host files into user names nor block vigil.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_state::users::open_in_root;
use vigil_state::UserDb;

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-users-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn secret(dir: &Path) -> PathBuf {
    let s = dir.join("secret");
    std::fs::create_dir_all(&s).unwrap();
    std::fs::write(s.join("passwd"), "leak:x:7:7:host secret:/:/bin/sh\n").unwrap();
    s
}

#[test]
fn absolute_symlink_stays_inside_the_container_root() {
    let d = tempdir("abs");
    let s = secret(&d);
    let root = d.join("ctr");
    std::fs::create_dir_all(&root).unwrap();
    symlink(&s, root.join("etc")).unwrap(); // /etc -> <host path of the secret>
    let (db, _, _) = UserDb::load(&root);
    assert!(
        !db.users.contains_key(&7),
        "host file read through a container symlink"
    );
    // A relative symlink that stays inside still works.
    let ok = d.join("ok");
    std::fs::create_dir_all(ok.join("real-etc")).unwrap();
    std::fs::write(ok.join("real-etc/passwd"), "app:x:9:9::/:/bin/sh\n").unwrap();
    symlink("real-etc", ok.join("etc")).unwrap();
    let (db, issues, _) = UserDb::load(&ok);
    assert_eq!(db.users.get(&9).map(|u| u.name.as_str()), Some("app"));
    assert_eq!(issues, 0);
    // `..` cannot climb out either.
    let dotdot = d.join("dotdot");
    std::fs::create_dir_all(&dotdot).unwrap();
    symlink("../../../../../../secret", dotdot.join("etc")).unwrap();
    let (db, _, _) = UserDb::load(&dotdot);
    assert!(!db.users.contains_key(&7));
}

#[test]
fn symlinked_file_and_fifo_are_refused_quickly() {
    let d = tempdir("fifo");
    let s = secret(&d);
    let root = d.join("ctr");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    symlink(s.join("passwd"), root.join("etc/passwd")).unwrap();
    let err = open_in_root(&root, "etc/passwd").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
    let (db, issues, _) = UserDb::load(&root);
    assert!(db.users.is_empty());
    assert_eq!(issues, 1, "the refused file is counted");

    let root2 = d.join("ctr2");
    std::fs::create_dir_all(root2.join("etc")).unwrap();
    let fifo = std::ffi::CString::new(root2.join("etc/passwd").to_str().unwrap()).unwrap();
    // SAFETY: `fifo` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let t0 = Instant::now();
    let err = open_in_root(&root2, "etc/passwd").unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let (db, issues, _) = UserDb::load(&root2);
    assert!(db.users.is_empty());
    assert_eq!(issues, 1);
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "a FIFO must not block"
    );
    // A missing file is not an issue (distroless images have none).
    let (_, issues, _) = UserDb::load(&d.join("nothing"));
    assert_eq!(issues, 0);
}
