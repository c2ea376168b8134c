//! The rooms of flood-client/src (its top-level folders and files) stand in the order
//! docs/ARCHITECTURE.md declares, and every `crate::` import points down that order or stays
//! in its own room: no import up, so no circle between rooms. The order is read from the
//! document's line `Rooms, lowest first: a < b < …`, so the page and the code cannot drift.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The declared order, lowest first.
fn declared_order() -> Vec<String> {
    let page =
        std::fs::read_to_string(root().join("../docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let line = page
        .lines()
        .find_map(|l| l.strip_prefix("Rooms, lowest first: "))
        .expect("ARCHITECTURE.md declares `Rooms, lowest first: a < b < …`");
    line.trim_end_matches('.')
        .split('<')
        .map(|r| r.trim().trim_matches('`').to_string())
        .collect()
}

/// Every .rs file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The room a file lives in: its top-level folder, or its own name for a top-level file;
/// `lib.rs`, `main.rs` and the crate's other top-level files are the room `lib`.
fn room_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    match name.strip_suffix(".rs") {
        Some(stem) if rel.components().count() == 1 => {
            let folder_twin = src.join(stem).is_dir();
            if folder_twin {
                stem.to_string()
            } else {
                format!("lib:{stem}")
            }
        }
        _ => name.into_owned(),
    }
}

/// The rooms `text` imports: every `crate::NAME`, including those inside `use crate::{…}`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_import_points_down_the_declared_order_of_rooms() {
    let order = declared_order();
    let rank = |room: &str| -> Option<usize> {
        let room = if room.starts_with("lib:") {
            "lib"
        } else {
            room
        };
        order.iter().position(|r| r == room)
    };
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut up = Vec::new();
    let mut rooms = BTreeSet::new();
    for file in &files {
        let from = room_of(&src, file);
        let from_rank = rank(&from).unwrap_or_else(|| {
            panic!(
                "{} is in room `{from}`, which ARCHITECTURE.md does not order",
                file.display()
            )
        });
        rooms.insert(from.clone());
        let text = std::fs::read_to_string(file).expect("source");
        for to in imports(&text) {
            // A top-level file names a module of the crate root (`crate::report`, `crate::usage`).
            let to_room = if src.join(&to).is_dir() || order.contains(&to) {
                to.clone()
            } else {
                format!("lib:{to}")
            };
            let Some(to_rank) = rank(&to_room) else {
                continue;
            };
            if to_rank > from_rank {
                up.push(format!(
                    "{} ({from}) uses crate::{to} ({to_room})",
                    file.strip_prefix(&src).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(
        up.is_empty(),
        "imports up the declared order {order:?}:\n{}",
        up.join("\n")
    );
    // Every declared room exists, so the declaration stays true when a room goes.
    for room in &order {
        assert!(
            rooms
                .iter()
                .any(|r| r == room || (room == "lib" && r.starts_with("lib:"))),
            "ARCHITECTURE.md orders `{room}`, which flood-client/src does not have"
        );
    }
}

#[test]
fn the_check_catches_an_import_up_the_order() {
    // The parser the test above relies on, on the forms it must see.
    let text =
        "use crate::fleet::start;\nuse crate::{cli::X, modes};\nlet _ = crate::report::ENDLESS;";
    let got: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(got, ["cli", "fleet", "modes", "report"]);
}
