//! The source tree keeps the shape its `//!` tours describe: no import cycle between the modules of
//! any crate of the workspace, counted three ways — between files, between the folders one level
//! down (the core's concerns: identity, memory, emotion, privacy, ...) and between top-level
//! modules. A module using its own parent or child is not a cycle (a folder re-exports its files).
//! Tests are left out: they may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `root` as (module path, source without comments and test modules).
fn modules(root: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                found.insert(module_path(root, &path), without_tests(&source));
            }
        }
    }
    found
}

/// `src/core/turn/inbox.rs` → `core::turn::inbox`; `src/core/mod.rs` → `core`; `src/lib.rs` → ``.
fn module_path(root: &Path, file: &Path) -> String {
    let relative: PathBuf = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The source up to its first `#[cfg(test)]` item, each line without its `//` comment.
fn without_tests(source: &str) -> String {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|line| match line.find("//") {
            // Not inside a string such as "https://…": good enough for paths after `crate::`.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(prefix: &str, tree: &str, into: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => into.push(join(prefix, tree.trim_end_matches("::"))),
        Some(open) => {
            let head = join(prefix, tree[..open].trim_end_matches("::"));
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (at, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&head, &inner[start..at], into);
                        start = at + 1;
                    }
                    _ => {}
                }
            }
            if !inner[start..].trim().is_empty() {
                expand(&head, &inner[start..], into);
            }
        }
    }
}

fn join(prefix: &str, rest: &str) -> String {
    let rest = rest.split(" as ").next().unwrap_or_default().trim();
    match (prefix.is_empty(), rest.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => rest.to_string(),
        (false, false) => format!("{prefix}::{rest}"),
    }
}

/// The paths a module names through `crate::` or `super::`, made absolute.
fn named_paths(module: &str, source: &str) -> Vec<String> {
    let parent = module.rsplit_once("::").map_or("", |(parent, _)| parent);
    let mut paths = Vec::new();
    for (anchor, base) in [("crate::", ""), ("super::", parent)] {
        let mut rest = source;
        while let Some(at) = rest.find(anchor) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + anchor.len()..];
            if before.is_some_and(|ch| ch.is_alphanumeric() || ch == '_' || ch == ':') {
                continue; // `whisperengine_crate::…`, `super::super::…` handled as one path
            }
            let mut depth = 0i32;
            let end = rest
                .char_indices()
                .find(|&(_, ch)| {
                    match ch {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    // Outside braces a path ends at anything but a name, `::` or a brace.
                    depth < 0
                        || !(ch.is_alphanumeric()
                            || "_:{}".contains(ch)
                            || (depth > 0 && ", \n*".contains(ch)))
                })
                .map_or(rest.len(), |(end, _)| end);
            let mut base = base.to_string();
            let mut tree = &rest[..end];
            while let Some(more) = tree.strip_prefix("super::") {
                base = base.rsplit_once("::").map_or("", |(up, _)| up).to_string();
                tree = more;
            }
            expand(&base, tree, &mut paths);
        }
    }
    paths
}

/// The longest module of `known` that `path` starts with.
fn owner<'a>(path: &str, known: &'a BTreeSet<String>) -> Option<&'a String> {
    let mut candidate = path;
    loop {
        if let Some(found) = known.get(candidate) {
            return Some(found);
        }
        candidate = candidate.rsplit_once("::")?.0;
    }
}

fn is_family(a: &str, b: &str) -> bool {
    let within =
        |inner: &str, outer: &str| outer.is_empty() || inner.starts_with(&format!("{outer}::"));
    a == b || within(a, b) || within(b, a)
}

/// Folders whose files count as one module: sea-orm entities name each other both ways in their
/// relations, as the schema's foreign keys do.
const ONE_UNIT: &[&str] = &["store::entities"];

fn unit_of(module: &str) -> String {
    ONE_UNIT
        .iter()
        .find(|unit| module.starts_with(&format!("{unit}::")))
        .map_or_else(|| module.to_string(), |unit| unit.to_string())
}

/// Module → modules it uses (parents and children left out).
fn graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let sources = modules(root);
    let known: BTreeSet<String> = sources.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, source) in &sources {
        let from = unit_of(module);
        let uses = named_paths(module, source)
            .iter()
            .filter_map(|path| owner(path, &known))
            .map(|used| unit_of(used))
            .filter(|used| !is_family(&from, used))
            .collect::<Vec<_>>();
        graph.entry(from).or_default().extend(uses);
    }
    graph
}

/// The graph with every module cut to its first `depth` segments.
fn coarsened(
    graph: &BTreeMap<String, BTreeSet<String>>,
    depth: usize,
) -> BTreeMap<String, BTreeSet<String>> {
    let cut = |module: &str| {
        module
            .split("::")
            .take(depth)
            .collect::<Vec<_>>()
            .join("::")
    };
    let mut coarse: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, uses) in graph {
        let from = cut(module);
        for used in uses {
            let to = cut(used);
            if !is_family(&from, &to) {
                coarse.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    coarse
}

/// One cycle of `graph`, as the modules along it, if there is any.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        trail: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = trail.iter().position(|step| step == node).unwrap_or(0);
                let mut cycle = trail[from..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        trail.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, trail) {
                return Some(cycle);
            }
        }
        trail.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn crate_sources() -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roots = vec![workspace.join("src")];
    for entry in std::fs::read_dir(workspace.join("adapters")).unwrap() {
        let source = entry.unwrap().path().join("src");
        if source.is_dir() {
            roots.push(source);
        }
    }
    for member in ["bench", "fakes", "fuzz/checks", "migrations"] {
        roots.push(workspace.join(member).join("src"));
    }
    roots
}

#[test]
fn no_crate_of_the_workspace_has_an_import_cycle() {
    for root in crate_sources() {
        let files = graph(&root);
        assert!(files.len() > 2, "no modules read under {}", root.display());
        for (depth, level) in [
            (usize::MAX, "files"),
            (2, "folders"),
            (1, "top-level modules"),
        ] {
            let cycle = a_cycle(&coarsened(&files, depth));
            assert!(
                cycle.is_none(),
                "import cycle between {level} of {}: {}",
                root.display(),
                cycle.unwrap_or_default().join(" → ")
            );
        }
    }
}

#[test]
fn the_cycle_check_finds_cycles_and_reads_use_trees() {
    let mut paths = Vec::new();
    expand(
        "",
        "core::{turn::{inbox, workers::Workers}, Core as C}",
        &mut paths,
    );
    assert_eq!(
        paths,
        [
            "core::turn::inbox",
            "core::turn::workers::Workers",
            "core::Core"
        ]
    );
    let named = named_paths(
        "core::turn::pipeline",
        "use super::inbox::InboxRow;\nuse crate::store::{accounts, hot::AccountInfo};\nlet x = crate::llm::Prompt::default();",
    );
    assert_eq!(
        named,
        [
            "store::accounts",
            "store::hot::AccountInfo",
            "llm::Prompt::default",
            "core::turn::inbox::InboxRow"
        ]
    );
    let edges = |pairs: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in pairs {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        graph
    };
    let looped = edges(&[("a::x", "b::y"), ("b::y", "c"), ("c", "a::x")]);
    assert_eq!(a_cycle(&looped).map(|cycle| cycle.len()), Some(4));
    // Acyclic between files, a cycle between their folders.
    let folders = edges(&[("a::x", "b::y"), ("b::z", "a::w")]);
    assert!(a_cycle(&folders).is_none());
    assert!(a_cycle(&coarsened(&folders, 1)).is_some());
    assert!(a_cycle(&edges(&[("a", "b"), ("b", "c")])).is_none());
}
