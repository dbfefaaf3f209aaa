//! Builds the web client (`../todo-web`, React + Vite) into `../todo-web/dist` when its sources
//! are newer than the build, so that `cargo run -p todo-example` serves an up-to-date client.
//!
//! It needs Node.js and npm; without them, or with `TODO_WEB_BUILD=0` (container images and
//! Lambda builds, where S3 serves the client), it builds nothing and the server says how to build
//! the client. A failed build is a warning, not a failed Rust build: the API works without it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// What the client is built from.
const SOURCES: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
    "tsconfig.app.json",
    "tsconfig.node.json",
];

fn main() {
    println!("cargo::rerun-if-env-changed=TODO_WEB_BUILD");
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../todo-web");
    if !web.join("package.json").exists() {
        return; // a copy of the package without the client (a container build context, say)
    }
    for source in SOURCES {
        println!("cargo::rerun-if-changed={}", web.join(source).display());
    }
    if std::env::var("TODO_WEB_BUILD").is_ok_and(|v| v == "0") {
        return;
    }
    if let Err(why) = build(&web) {
        println!("cargo::warning=the web client was not built ({why}); `/` says how to build it");
    }
}

fn build(web: &Path) -> Result<(), String> {
    // One build at a time, whichever cargo runs this script.
    let lock = std::fs::File::create(web.join(".build.lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    let sources = newest(SOURCES.iter().map(|s| web.join(s)));
    if modified(&web.join("dist/index.html")).is_some_and(|built| Some(built) >= sources) {
        return Ok(());
    }
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(&web.join("package-lock.json")) {
        npm(web, &["ci", "--no-audit", "--no-fund"])?;
    }
    npm(web, &["run", "build"])
}

fn npm(web: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("npm")
        .args(args)
        .current_dir(web)
        .output()
        .map_err(|e| format!("npm {}: {e}; is Node.js installed?", args.join(" ")))?;
    if output.status.success() {
        return Ok(());
    }
    // tsc reports on stdout, npm and Vite on stderr: the first line that names an error.
    let text = [output.stdout, output.stderr].concat();
    let text = String::from_utf8_lossy(&text);
    let line = text
        .lines()
        .find(|l| l.to_lowercase().contains("error"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()));
    Err(format!(
        "npm {} failed: {}",
        args.join(" "),
        line.unwrap_or("no message").trim()
    ))
}

/// The newest modification time under these paths.
fn newest(paths: impl Iterator<Item = PathBuf>) -> Option<SystemTime> {
    let mut newest = None;
    let mut paths: Vec<PathBuf> = paths.collect();
    while let Some(path) = paths.pop() {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            paths.extend(entries.map(|e| e.path()));
        } else {
            newest = newest.max(modified(&path));
        }
    }
    newest
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
