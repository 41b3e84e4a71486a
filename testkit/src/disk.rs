//! A disk that fills up, for the full-disk tests: a small tmpfs of its own. Only root may mount
//! one, so elsewhere [`SmallDisk::mount`] says the test cannot run, and fails where
//! `TELEDESK_FAULTS_REQUIRED=1` (as in `.ci/run`) so CI never skips it silently.

/// A mounted tmpfs of a few megabytes, unmounted on drop.
pub struct SmallDisk {
    /// Where it is mounted.
    pub path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes`; `None` (after saying why) where that is not allowed.
    pub fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var("TELEDESK_FAULTS_REQUIRED").as_deref() != Ok("1"),
                "cannot mount a tmpfs (needs root) and TELEDESK_FAULTS_REQUIRED=1"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Self { path, _dir: dir })
    }

    /// Fills what is left of the disk with one file.
    pub fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path.join("filler")).unwrap();
        let chunk = vec![0u8; 1 << 20];
        while filler.write_all(&chunk).is_ok() {}
        let _ = filler.sync_all();
    }

    /// Removes what [`SmallDisk::fill`] wrote.
    pub fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}
