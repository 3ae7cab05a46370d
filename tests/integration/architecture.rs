//! The shape of `src/`, as the design fixes it: data flows one way, so no file imports a file
//! that imports it back (directly or round a longer loop), no top-level module does, and no
//! check names a database engine (a check asks `system/`; it never names an engine).
//!
//! A small scanner reads the sources instead of a Rust parser: it drops comments and string,
//! char and raw-string literals, follows the module tree from `lib.rs` and `main.rs` through
//! `mod` declarations (files `x.rs` or `x/mod.rs`, and inline `mod x { ... }`), and resolves
//! every path that starts with `crate`, `super`, `self`, the library's name (in `main.rs`), a
//! child module or a name a `use` brought in, to the file that defines the module the path
//! names: `crate::check::Status` is in `src/check/mod.rs` (`Status` is no module),
//! `crate::check::finding::Finding` in `src/check/finding.rs`. Test code is left out: items
//! under `#[cfg(test)]` and modules named `tests`, inline or in their own file. A `mod child;`
//! declaration is not an edge; naming something in the child is. Paths in attributes (such as
//! `#[serde(with = "...")]`) and in strings are not followed.
//!
//! When an assertion fails it prints every cycle (each edge that lies on a cycle is in at
//! least one of them, as the shortest way back), with the lines that make each edge.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The library crate's name, as `main.rs` spells it.
const LIB: &str = "driftwatch";

/// Engine names a check must not use, matched case-insensitively anywhere in a line
/// (`postgres` also catches PostgreSQL).
const ENGINE_WORDS: &[&str] = &["postgres", "mysql", "mariadb", "sqlite", "enginekind"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_file_in_src_imports_itself_round_a_cycle() {
    let graph = scan(&src_dir(), LIB);
    let cycles = cycles(&graph.file_edges());
    assert!(
        cycles.is_empty(),
        "import cycles between files of src/ (break each by moving what both sides need \
         into a module that depends on neither, or by passing it in):\n{}",
        graph.explain(&cycles, Graph::file_edges)
    );
}

#[test]
fn no_top_level_module_of_src_imports_itself_round_a_cycle() {
    let graph = scan(&src_dir(), LIB);
    let cycles = cycles(&graph.folder_edges());
    assert!(
        cycles.is_empty(),
        "import cycles between the top-level modules of src/ (data flows one way: config -> \
         schedule -> check -> system; results -> metrics, state, alert):\n{}",
        graph.explain(&cycles, Graph::folder_edges)
    );
}

#[test]
fn no_file_under_src_check_names_a_database_engine() {
    let mentions = engine_mentions(&src_dir());
    assert!(
        mentions.is_empty(),
        "src/check/ names a database engine (a check asks `system/` its typed questions and \
         never names an engine, not even in a comment; move engine-specific text to \
         src/system/):\n{}",
        mentions.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Lexing: identifiers, `::` and single punctuation, with comments and literals dropped.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn lex(src: &str) -> Vec<Token> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skip a quoted literal whose opening quote is at `i`, honouring backslash escapes.
    let skip_quoted = |i: &mut usize, line: &mut usize, quote: char| {
        *i += 1;
        while *i < s.len() && s[*i] != quote {
            if s[*i] == '\\' {
                *i += 1;
            }
            if *i < s.len() && s[*i] == '\n' {
                *line += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < s.len() {
        let c = s[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && s.get(i + 1) == Some(&'/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && s.get(i + 1) == Some(&'*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if s[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            skip_quoted(&mut i, &mut line, '"');
        } else if c == '\'' {
            if s.get(i + 1) == Some(&'\\') {
                // An escaped char literal: '\n', '\'', '\u{1F600}'.
                skip_quoted(&mut i, &mut line, '\'');
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3; // 'x', including '"'
            } else {
                // A lifetime or a loop label: skip the quote and its name.
                i += 1;
                while i < s.len() && is_ident_char(s[i]) {
                    i += 1;
                }
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < s.len() && is_ident_char(s[i]) {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let next = s.get(i).copied();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if raw_prefix && (next == Some('"') || next == Some('#')) {
                let mut hashes = 0;
                while s.get(i + hashes) == Some(&'#') {
                    hashes += 1;
                }
                if s.get(i + hashes) == Some(&'"') {
                    // A raw string: ends at a quote followed by as many hashes.
                    i += hashes + 1;
                    loop {
                        if i >= s.len() {
                            break;
                        }
                        if s[i] == '"' && (0..hashes).all(|k| s.get(i + 1 + k) == Some(&'#')) {
                            i += 1 + hashes;
                            break;
                        }
                        if s[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    continue;
                }
                if word == "r" && hashes == 1 && s.get(i + 1).is_some_and(|&c| is_ident_start(c)) {
                    // A raw identifier, r#type: the name is what follows.
                    i += 1;
                    let start = i;
                    while i < s.len() && is_ident_char(s[i]) {
                        i += 1;
                    }
                    out.push(Token {
                        tok: Tok::Ident(s[start..i].iter().collect()),
                        line,
                    });
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && next == Some('"') {
                skip_quoted(&mut i, &mut line, '"');
                continue;
            }
            if word == "b" && next == Some('\'') {
                skip_quoted(&mut i, &mut line, '\'');
                continue;
            }
            out.push(Token {
                tok: Tok::Ident(word),
                line,
            });
        } else if c.is_ascii_digit() {
            while i < s.len() && is_ident_char(s[i]) {
                i += 1;
            }
        } else if c == ':' && s.get(i + 1) == Some(&':') {
            out.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                line,
            });
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Parsing one file: its modules (the file's own and inline ones), `use` names, and paths.

/// A module: which crate, its path from the crate root, where it is defined.
#[derive(Debug)]
struct Module {
    krate: usize,
    path: Vec<String>,
    /// Relative to the folder above `src/`, e.g. `src/check/mod.rs`.
    file: String,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Names brought in by `use` (the alias and the path it stands for, as written).
    uses: BTreeMap<String, Vec<String>>,
}

/// A path named in code, before resolution.
#[derive(Debug)]
struct Reference {
    module: usize,
    line: usize,
    segments: Vec<String>,
}

/// A `mod x;` whose file is still to be found.
struct Declared {
    parent: usize,
    name: String,
    /// The folder its file is in.
    dir: PathBuf,
}

/// A file's outline, as the parser leaves it.
struct Parsed {
    /// `mod x;` declarations outside test code.
    declared: Vec<Declared>,
    /// Test modules (`#[cfg(test)]`, or named `tests`), as their file's path without `.rs`.
    test_modules: Vec<PathBuf>,
    /// Problems the scanner cannot handle, reported rather than guessed at.
    problems: Vec<String>,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn punct(t: Option<&Token>, c: char) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(p)) if *p == c)
}

fn path_sep(t: Option<&Token>) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::PathSep))
}

/// Index just past the bracket group opening at `i` (`(`, `[` or `{`).
fn skip_group(toks: &[Token], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < toks.len() {
        match toks[j].tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

/// Index just past the item (or statement, or field) starting at `i`: its `;`, or the end of
/// its body, or the bracket that closes the group it is in (not consumed).
fn skip_item(toks: &[Token], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < toks.len() {
        match toks[j].tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(c @ (')' | ']' | '}')) => {
                if depth == 0 {
                    return j;
                }
                depth -= 1;
                if depth == 0 && c == '}' {
                    return j + 1;
                }
            }
            Tok::Punct(';') if depth == 0 => return j + 1,
            _ => {}
        }
        j += 1;
    }
    j
}

/// A path a `use` names, the name it binds (None for a glob or `_`), and its line.
type UsePath = (Vec<String>, Option<String>, usize);

/// One `use` tree: every full path it names.
fn parse_use_tree(toks: &[Token], i: &mut usize, prefix: &[String], out: &mut Vec<UsePath>) {
    let mut segments = prefix.to_vec();
    if path_sep(toks.get(*i)) {
        *i += 1; // `use ::std::...`: a crate, never ours
        segments.push("::".into());
    }
    loop {
        let t = toks.get(*i);
        if punct(t, '{') {
            *i += 1;
            while *i < toks.len() && !punct(toks.get(*i), '}') {
                parse_use_tree(toks, i, &segments, out);
                if punct(toks.get(*i), ',') {
                    *i += 1;
                }
            }
            *i += 1;
            return;
        }
        if punct(t, '*') {
            out.push((segments, None, t.map_or(0, |t| t.line)));
            *i += 1;
            return;
        }
        let Some(name) = ident(t) else {
            return;
        };
        let line = t.map_or(0, |t| t.line);
        segments.push(name.to_string());
        *i += 1;
        if path_sep(toks.get(*i)) {
            *i += 1;
            continue;
        }
        let mut bound = if name == "self" {
            segments.pop();
            segments.last().cloned()
        } else {
            Some(name.to_string())
        };
        if ident(toks.get(*i)) == Some("as") {
            bound = ident(toks.get(*i + 1))
                .filter(|a| *a != "_")
                .map(str::to_string);
            *i += 2;
        }
        out.push((segments, bound, line));
        return;
    }
}

/// Whether the attribute tokens (inside `#[...]`) say `cfg(test)`.
fn is_cfg_test(attr: &[Token]) -> bool {
    let words: Vec<&Tok> = attr.iter().map(|t| &t.tok).collect();
    words
        == [
            &Tok::Ident("cfg".into()),
            &Tok::Punct('('),
            &Tok::Ident("test".into()),
            &Tok::Punct(')'),
        ]
}

/// The scanner's whole picture: modules, the paths named in each, and what it could not do.
struct Scanner {
    root: PathBuf,
    modules: Vec<Module>,
    references: Vec<Reference>,
    /// The crate roots: (crate name as other crates spell it, root module).
    crates: Vec<(String, usize)>,
    /// Test modules' files (`src/a/tests.rs`) and folders (`src/a/tests/`), left out.
    test_files: BTreeSet<String>,
    problems: Vec<String>,
}

impl Scanner {
    fn shown(&self, file: &Path) -> String {
        let rel = file.strip_prefix(&self.root).unwrap_or(file);
        rel.to_string_lossy().replace('\\', "/")
    }

    fn new_module(
        &mut self,
        krate: usize,
        path: Vec<String>,
        file: String,
        parent: Option<usize>,
    ) -> usize {
        self.modules.push(Module {
            krate,
            path,
            file,
            parent,
            children: BTreeMap::new(),
            uses: BTreeMap::new(),
        });
        let id = self.modules.len() - 1;
        if let Some(p) = parent {
            let name = self.modules[id].path.last().unwrap().clone();
            self.modules[p].children.insert(name, id);
        }
        id
    }

    /// Read the file of module `module` and everything it declares, recursively.
    fn read_file(&mut self, module: usize, file: &Path) {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                self.problems
                    .push(format!("{}: cannot read: {e}", self.shown(file)));
                return;
            }
        };
        let toks = lex(&text);
        // Child files of `x.rs` are in `x/`; of `mod.rs`, `lib.rs` and `main.rs` beside it.
        let stem = file.file_stem().unwrap().to_string_lossy();
        let dir = if self.modules[module].parent.is_none() || stem == "mod" {
            file.parent().unwrap().to_path_buf()
        } else {
            file.parent().unwrap().join(&*stem)
        };
        let parsed = self.parse(module, &toks, &dir);
        for t in &parsed.test_modules {
            let shown = self.shown(t);
            self.test_files.insert(format!("{shown}.rs"));
            self.test_files.insert(format!("{shown}/"));
        }
        let shown = self.shown(file);
        self.problems
            .extend(parsed.problems.into_iter().map(|p| format!("{shown}: {p}")));
        for d in parsed.declared {
            let flat = d.dir.join(format!("{}.rs", d.name));
            let nested = d.dir.join(&d.name).join("mod.rs");
            let found = [flat.clone(), nested.clone()]
                .into_iter()
                .filter(|p| p.is_file())
                .collect::<Vec<_>>();
            match found.as_slice() {
                [one] => {
                    let mut path = self.modules[d.parent].path.clone();
                    path.push(d.name.clone());
                    let shown = self.shown(one);
                    let krate = self.modules[d.parent].krate;
                    let child = self.new_module(krate, path, shown, Some(d.parent));
                    self.read_file(child, &one.clone());
                }
                [] => self.problems.push(format!(
                    "{}: `mod {}` has no file ({} or {})",
                    self.shown(file),
                    d.name,
                    self.shown(&flat),
                    self.shown(&nested)
                )),
                _ => self.problems.push(format!(
                    "{}: `mod {}` has two files ({} and {})",
                    self.shown(file),
                    d.name,
                    self.shown(&flat),
                    self.shown(&nested)
                )),
            }
        }
    }

    /// Walk a file's tokens: inline modules, `mod` declarations, `use` trees, paths.
    fn parse(&mut self, file_module: usize, toks: &[Token], dir: &Path) -> Parsed {
        let mut parsed = Parsed {
            declared: Vec::new(),
            test_modules: Vec::new(),
            problems: Vec::new(),
        };
        // Inline modules open here: (module, the brace depth inside it, its folder).
        let mut scopes: Vec<(usize, usize, PathBuf)> = vec![(file_module, 0, dir.to_path_buf())];
        let mut depth = 0;
        let mut i = 0;
        while i < toks.len() {
            let (scope, _, scope_dir) = scopes.last().unwrap().clone();
            // Attributes, then what they are on.
            if punct(toks.get(i), '#') {
                let start = i;
                let mut test = false;
                while punct(toks.get(i), '#') {
                    let inner = punct(toks.get(i + 1), '!');
                    let open = if inner { i + 2 } else { i + 1 };
                    if !punct(toks.get(open), '[') {
                        break;
                    }
                    let end = skip_group(toks, open);
                    let attr = &toks[open + 1..end.saturating_sub(1).max(open + 1)];
                    if ident(attr.first()) == Some("path") {
                        parsed.problems.push(format!(
                            "line {}: #[path] is not supported by this scanner; teach it",
                            toks[i].line
                        ));
                    }
                    if is_cfg_test(attr) {
                        if inner {
                            // The whole file (or inline module) is test code.
                            return parsed;
                        }
                        test = true;
                    }
                    i = end;
                }
                if i == start {
                    i += 1; // a `#` that opens no attribute, as in a macro's rules
                    continue;
                }
                if test {
                    if ident(toks.get(i)) == Some("mod") {
                        if let Some(name) = ident(toks.get(i + 1)) {
                            parsed.test_modules.push(scope_dir.join(name));
                        }
                    }
                    i = skip_item(toks, i);
                }
                continue;
            }
            match &toks[i].tok {
                Tok::Punct('{') => {
                    depth += 1;
                    i += 1;
                }
                Tok::Punct('}') => {
                    if scopes.len() > 1 && scopes.last().unwrap().1 == depth {
                        scopes.pop();
                    }
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
                Tok::Ident(w) if w == "pub" && punct(toks.get(i + 1), '(') => {
                    // pub(crate), pub(super), pub(in crate::x): a limit, not a use.
                    i = skip_group(toks, i + 1);
                }
                Tok::Ident(w) if w == "mod" && ident(toks.get(i + 1)).is_some() => {
                    let name = ident(toks.get(i + 1)).unwrap().to_string();
                    if name == "tests" {
                        parsed.test_modules.push(scope_dir.join(&name));
                        i = skip_item(toks, i);
                    } else if punct(toks.get(i + 2), ';') {
                        parsed.declared.push(Declared {
                            parent: scope,
                            name,
                            dir: scope_dir,
                        });
                        i += 3;
                    } else if punct(toks.get(i + 2), '{') {
                        let mut path = self.modules[scope].path.clone();
                        path.push(name.clone());
                        let krate = self.modules[scope].krate;
                        let file = self.modules[scope].file.clone();
                        let inline = self.new_module(krate, path, file, Some(scope));
                        depth += 1;
                        scopes.push((inline, depth, scope_dir.join(&name)));
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
                Tok::Ident(w) if w == "use" => {
                    i += 1;
                    let mut trees = Vec::new();
                    parse_use_tree(toks, &mut i, &[], &mut trees);
                    for (segments, bound, line) in trees {
                        if let Some(name) = bound {
                            self.modules[scope].uses.insert(name, segments.clone());
                        }
                        self.references.push(Reference {
                            module: scope,
                            line,
                            segments,
                        });
                    }
                }
                Tok::Ident(first) => {
                    let after_sep = i > 0 && path_sep(toks.get(i - 1));
                    let after_dot = i > 0 && punct(toks.get(i - 1), '.');
                    let line = toks[i].line;
                    let mut segments = vec![first.clone()];
                    let mut j = i + 1;
                    while path_sep(toks.get(j)) {
                        match ident(toks.get(j + 1)) {
                            Some(next) => {
                                segments.push(next.to_string());
                                j += 2;
                            }
                            None => break, // `::<T>`: generic arguments follow
                        }
                    }
                    if !after_sep && !after_dot && segments.len() > 1 {
                        self.references.push(Reference {
                            module: scope,
                            line,
                            segments,
                        });
                    }
                    i = j;
                }
                _ => i += 1,
            }
        }
        parsed
    }

    /// What a path names: the module that defines it (the deepest module along the path,
    /// through names that modules import) and the item in it, if the path goes past a module.
    /// None for another crate's.
    fn resolve(
        &self,
        from: usize,
        segments: &[String],
        hops: usize,
    ) -> Option<(usize, Option<String>)> {
        if hops > 16 || segments.is_empty() {
            return None;
        }
        let m = &self.modules[from];
        let (mut cur, rest) = match segments[0].as_str() {
            "crate" => (self.crates[m.krate].1, &segments[1..]),
            "self" => (from, &segments[1..]),
            "super" => {
                let mut cur = from;
                let mut k = 0;
                while segments.get(k).map(String::as_str) == Some("super") {
                    cur = self.modules[cur].parent?;
                    k += 1;
                }
                (cur, &segments[k..])
            }
            first => {
                if let Some(&child) = m.children.get(first) {
                    (child, &segments[1..])
                } else if let Some(target) = m.uses.get(first) {
                    if target.as_slice() == segments {
                        return None; // `use x;` naming an extern crate `x`
                    }
                    let mut full = target.clone();
                    full.extend_from_slice(&segments[1..]);
                    return self.resolve(from, &full, hops + 1);
                } else if let Some(&(_, root)) = self
                    .crates
                    .iter()
                    .find(|(name, root)| name == first && self.modules[*root].krate != m.krate)
                {
                    (root, &segments[1..])
                } else {
                    return None;
                }
            }
        };
        for (k, seg) in rest.iter().enumerate() {
            let module = &self.modules[cur];
            if let Some(&child) = module.children.get(seg) {
                cur = child;
            } else if let Some(target) = module.uses.get(seg) {
                // A name `cur` imports (`super::Arc`, `crate::check::system::X`): the path
                // names what the import stands for, read in `cur`'s scope.
                let mut full = target.clone();
                full.extend_from_slice(&rest[k + 1..]);
                return self.resolve(cur, &full, hops + 1);
            } else {
                return Some((cur, Some(seg.clone())));
            }
        }
        Some((cur, None))
    }

    /// A module's path as code outside it would write it: `crate::check::finding`.
    fn spelled(&self, module: usize, from_crate: usize) -> String {
        let m = &self.modules[module];
        let root = if m.krate == from_crate {
            "crate".to_string()
        } else {
            self.crates[m.krate].0.clone()
        };
        std::iter::once(root)
            .chain(m.path.iter().cloned())
            .collect::<Vec<_>>()
            .join("::")
    }
}

/// One place a file names a path in another.
#[derive(Clone, Debug)]
struct Naming {
    file: String,
    line: usize,
    /// As written: `super::Status`.
    written: String,
    /// What it names, from the crate root: `crate::check::Status`.
    named: String,
}

/// Files that name paths in other files: (from, to) -> where they do.
struct Graph {
    edges: Edges,
    files: BTreeSet<String>,
    problems: Vec<String>,
}

/// Scan the crate whose `src/` is `src` (the library in `lib.rs`, called `lib_name` by the
/// binary in `main.rs`).
fn scan(src: &Path, lib_name: &str) -> Graph {
    let root = src.parent().unwrap().to_path_buf();
    let mut s = Scanner {
        root,
        modules: Vec::new(),
        references: Vec::new(),
        crates: Vec::new(),
        test_files: BTreeSet::new(),
        problems: Vec::new(),
    };
    for (name, file) in [(lib_name, "lib.rs"), ("", "main.rs")] {
        let path = src.join(file);
        if !path.is_file() {
            continue;
        }
        let krate = s.crates.len();
        let shown = s.shown(&path);
        let module = s.new_module(krate, Vec::new(), shown, None);
        s.crates.push((name.to_string(), module));
        s.read_file(module, &path);
    }
    // Every .rs file under src/ should be in the tree, or be test code.
    let mut all = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                all.push(s.shown(&p));
            }
        }
    }
    let files: BTreeSet<String> = s.modules.iter().map(|m| m.file.clone()).collect();
    for f in all {
        let test = s
            .test_files
            .iter()
            .any(|t| f == *t || (t.ends_with('/') && f.starts_with(t.as_str())));
        if !test && !files.contains(&f) {
            s.problems.push(format!(
                "{f}: in no module tree from lib.rs or main.rs (not compiled?), not scanned"
            ));
        }
    }
    let mut edges: Edges = BTreeMap::new();
    for r in &s.references {
        let Some((target, item)) = s.resolve(r.module, &r.segments, 0) else {
            continue;
        };
        let from = &s.modules[r.module].file;
        let to = &s.modules[target].file;
        if from != to {
            let mut named = s.spelled(target, s.modules[r.module].krate);
            if let Some(item) = item {
                named = format!("{named}::{item}");
            }
            edges
                .entry((from.clone(), to.clone()))
                .or_default()
                .push(Naming {
                    file: from.clone(),
                    line: r.line,
                    written: r.segments.join("::"),
                    named,
                });
        }
    }
    Graph {
        edges,
        files,
        problems: s.problems,
    }
}

/// A file's top-level module of `src/`, as shown: `src/check/`, `src/agent.rs`.
fn top_level(file: &str) -> String {
    let rest = file.strip_prefix("src/").unwrap_or(file);
    match rest.split_once('/') {
        Some((folder, _)) => format!("src/{folder}/"),
        None => {
            let stem = rest.strip_suffix(".rs").unwrap_or(rest);
            // `src/foo.rs` with a `src/foo/` beside it is the same module as its folder.
            format!("src/{stem}.rs")
        }
    }
}

type Edges = BTreeMap<(String, String), Vec<Naming>>;

impl Graph {
    fn file_edges(&self) -> Edges {
        self.edges.clone()
    }

    fn folder_edges(&self) -> Edges {
        let folders: BTreeSet<String> = self.files.iter().map(|f| top_level(f)).collect();
        let unify = |f: &str| {
            let t = top_level(f);
            // foo.rs and foo/ together are one module.
            match t.strip_suffix(".rs") {
                Some(stem) if folders.contains(&format!("{stem}/")) => format!("{stem}/"),
                _ => t,
            }
        };
        let mut out: Edges = BTreeMap::new();
        for ((a, b), lines) in &self.edges {
            let (ta, tb) = (unify(a), unify(b));
            if ta != tb {
                out.entry((ta, tb))
                    .or_default()
                    .extend(lines.iter().cloned());
            }
        }
        out
    }

    /// Every cycle as a path, each edge followed by what makes it: each thing one side
    /// names in the other, where it first does and how many more lines do.
    fn explain(&self, cycles: &[Vec<String>], edges: fn(&Graph) -> Edges) -> String {
        let edges = edges(self);
        let mut out = String::new();
        for cycle in cycles {
            let _ = writeln!(out, "  {}", cycle.join(" -> "));
            for pair in cycle.windows(2) {
                let _ = writeln!(out, "      {} -> {}:", pair[0], pair[1]);
                let mut by_name: BTreeMap<(&str, &str), Vec<&Naming>> = BTreeMap::new();
                for n in &edges[&(pair[0].clone(), pair[1].clone())] {
                    by_name.entry((&n.file, &n.named)).or_default().push(n);
                }
                let mut firsts: Vec<(&Naming, usize)> = by_name
                    .values()
                    .map(|ns| (*ns.iter().min_by_key(|n| n.line).unwrap(), ns.len() - 1))
                    .collect();
                firsts.sort_by_key(|(n, _)| (n.file.clone(), n.line, n.named.clone()));
                for (n, more) in firsts {
                    let _ = write!(out, "        {}:{} `{}`", n.file, n.line, n.written);
                    if n.written != n.named {
                        let _ = write!(out, " = {}", n.named);
                    }
                    if more > 0 {
                        let _ = write!(out, " (and {more} more)");
                    }
                    out.push('\n');
                }
            }
        }
        for p in &self.problems {
            let _ = writeln!(out, "  (scanner: {p})");
        }
        out
    }
}

/// Cycles in a graph, each as a path that returns to its start: for every edge that lies on
/// a cycle, the shortest cycle through it (so every such edge is shown at least once).
fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().insert(b);
    }
    // Shortest path from `start` to `goal`, by breadth-first search.
    let shortest = |start: &str, goal: &str| -> Option<Vec<String>> {
        let mut came: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = BTreeSet::from([start]);
        while let Some(n) = queue.pop_front() {
            if n == goal {
                let mut path = vec![goal.to_string()];
                let mut cur = goal;
                while cur != start {
                    cur = came[cur];
                    path.push(cur.to_string());
                }
                path.reverse();
                return Some(path);
            }
            for &m in next.get(n).into_iter().flatten() {
                if seen.insert(m) {
                    came.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        None
    };
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (a, b) in edges.keys() {
        if let Some(back) = shortest(b, a) {
            let mut cycle = vec![a.clone()];
            cycle.extend(back);
            // Start each cycle at its smallest node, so one cycle is listed once.
            cycle.pop();
            let k = (0..cycle.len()).min_by_key(|&k| &cycle[k]).unwrap();
            cycle.rotate_left(k);
            cycle.push(cycle[0].clone());
            found.insert(cycle);
        }
    }
    found.into_iter().collect()
}

/// Lines of files under `src/check/` that name an engine, as `file:line: text`.
fn engine_mentions(src: &Path) -> Vec<String> {
    let root = src.parent().unwrap();
    let mut out = Vec::new();
    let mut stack = vec![src.join("check")];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let shown = f.strip_prefix(root).unwrap_or(&f).to_string_lossy();
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let words: Vec<&str> = ENGINE_WORDS
                .iter()
                .copied()
                .filter(|w| lower.contains(w))
                .collect();
            if !words.is_empty() {
                out.push(format!(
                    "{shown}:{}: {} [{}]",
                    n + 1,
                    line.trim(),
                    words.join(", ")
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The scanner on small made-up trees: it finds what is there and nothing that is not.

/// A crate in a temp folder, from (path under src/, text) pairs.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join("src").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn edges_of(dir: &tempfile::TempDir) -> Vec<(String, String)> {
    let g = scan(&dir.path().join("src"), "app");
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    g.edges.keys().cloned().collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (format!("src/{a}"), format!("src/{b}")))
        .collect();
    v.sort();
    v
}

#[test]
fn scanner_resolves_groups_self_and_super_to_the_defining_files() {
    let dir = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        (
            "a.rs",
            "use crate::{b, c::{self, inner::Deep, Item as Renamed}};\n\
             pub fn f() { b::g(); }\n",
        ),
        ("b.rs", "pub fn g() {}\n"),
        (
            "c/mod.rs",
            "pub mod inner;\npub mod sib;\npub struct Item;\n",
        ),
        ("c/inner.rs", "pub struct Deep;\nuse super::sib::S;\n"),
        (
            "c/sib.rs",
            "pub struct S;\npub fn h() -> super::Item { super::Item }\n",
        ),
    ]);
    assert_eq!(
        edges_of(&dir),
        pairs(&[
            ("a.rs", "b.rs"),           // crate::b, b::g
            ("a.rs", "c/inner.rs"),     // crate::c::inner::Deep
            ("a.rs", "c/mod.rs"),       // crate::c::self, crate::c::Item
            ("c/inner.rs", "c/sib.rs"), // super::sib::S: a sibling module
            ("c/sib.rs", "c/mod.rs"),   // super::Item: an item of the parent
        ])
    );
}

#[test]
fn scanner_ignores_paths_in_comments_strings_and_chars() {
    let dir = tree(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        (
            "a.rs",
            r####"
// use crate::b::X;
/// See crate::b::X.
/* a block /* nested crate::b::X */ still comment crate::b::X */
const A: &str = "crate::b::X \" crate::b::X";
const B: &str = r#"crate::b::X " crate::b::X"#;
const C: &[u8] = br##"crate::b::X"##;
const D: char = '"';
const E: &[u8] = b"crate::b::X";
fn f<'a>(x: &'a str) -> &'a str { let _ = '\''; x }
"####,
        ),
        ("b.rs", "pub struct X;\n"),
    ]);
    assert_eq!(edges_of(&dir), Vec::<(String, String)>::new());
}

#[test]
fn scanner_leaves_out_test_code_and_mod_declarations() {
    let dir = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a/mod.rs",
            "pub mod child;\n\
             #[cfg(test)]\nmod tests;\n\
             #[cfg(test)]\nfn helper() -> crate::b::X { crate::b::X }\n\
             #[cfg(test)]\n#[allow(unused)]\nmod more { use crate::b::X; }\n\
             pub(in crate::a) fn limited() {}\n",
        ),
        ("a/child.rs", "pub fn c() {}\n"),
        ("a/tests.rs", "use crate::b::X;\nuse super::child::c;\n"),
        (
            "b.rs",
            "pub struct X;\n#[cfg(test)]\nmod tests {\n    use crate::a::child::c;\n}\n",
        ),
    ]);
    assert_eq!(edges_of(&dir), Vec::<(String, String)>::new());
}

#[test]
fn scanner_follows_use_aliases_inline_modules_and_the_binary() {
    let dir = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "main.rs",
            "fn main() { app::a::run(); }\nuse app::b as bee;\nfn x() { bee::deep::D; }\n",
        ),
        (
            "a.rs",
            "use crate::b;\npub fn run() { b::deep::f(); }\n\
             mod inner {\n    fn g() { super::super::b::h(); }\n}\n\
             fn k() { inner::g(); sqlx::query(); }\n",
        ),
        ("b/mod.rs", "pub mod deep;\npub fn h() {}\n"),
        ("b/deep.rs", "pub fn f() {}\npub struct D;\n"),
    ]);
    assert_eq!(
        edges_of(&dir),
        pairs(&[
            ("a.rs", "b/deep.rs"), // b::deep::f through `use crate::b`
            ("a.rs", "b/mod.rs"),  // `use crate::b` itself, super::super::b::h
            ("main.rs", "a.rs"),
            ("main.rs", "b/deep.rs"),
            ("main.rs", "b/mod.rs"),
        ])
    );
}

#[test]
fn scanner_follows_what_a_parent_imports_to_where_it_is_defined() {
    let dir = tree(&[
        ("lib.rs", "pub mod check;\npub mod system;\n"),
        (
            "check/mod.rs",
            "mod kind;\nuse crate::system;\npub use crate::system::Systems;\nuse std::sync::Arc;\n",
        ),
        (
            "check/kind.rs",
            "fn f(s: &super::Systems, a: super::Arc<u8>) {\n    super::system::connect();\n}\n",
        ),
        (
            "system/mod.rs",
            "pub struct Systems;\npub fn connect() {}\n",
        ),
    ]);
    let g = scan(&dir.path().join("src"), "app");
    assert_eq!(
        g.edges.keys().cloned().collect::<Vec<_>>(),
        pairs(&[
            ("check/kind.rs", "system/mod.rs"),
            ("check/mod.rs", "system/mod.rs"),
        ]),
        "a re-export or an imported module is not the parent's own, and std's Arc is no edge"
    );
    let named: Vec<(usize, &str, &str)> = g.edges[&(
        "src/check/kind.rs".to_string(),
        "src/system/mod.rs".to_string(),
    )]
        .iter()
        .map(|n| (n.line, n.written.as_str(), n.named.as_str()))
        .collect();
    assert_eq!(
        named,
        vec![
            (1, "super::Systems", "crate::system::Systems"),
            (2, "super::system::connect", "crate::system::connect"),
        ]
    );
}

#[test]
fn scanner_reports_file_cycles_as_paths_with_their_lines() {
    let dir = tree(&[
        ("lib.rs", "pub mod agent;\npub mod http;\npub mod check;\n"),
        (
            "agent.rs",
            "pub struct Shared;\nfn serve() { crate::http::serve(); }\n",
        ),
        ("http.rs", "use crate::agent::Shared;\npub fn serve() {}\n"),
        (
            "check/mod.rs",
            "mod kind;\npub enum Status { Ok }\nfn run() { kind::run(); }\n",
        ),
        ("check/kind.rs", "use super::Status;\npub fn run() {}\n"),
    ]);
    let g = scan(&dir.path().join("src"), "app");
    let found = cycles(&g.file_edges());
    let shown: Vec<String> = found.iter().map(|c| c.join(" -> ")).collect();
    assert_eq!(
        shown,
        vec![
            "src/agent.rs -> src/http.rs -> src/agent.rs",
            "src/check/kind.rs -> src/check/mod.rs -> src/check/kind.rs",
        ]
    );
    let text = g.explain(&found, Graph::file_edges);
    assert!(
        text.contains("src/http.rs:1 `crate::agent::Shared`")
            && text.contains("src/agent.rs:2 `crate::http::serve`")
            && text.contains("src/check/kind.rs:1 `super::Status` = crate::check::Status")
            && text.contains("src/check/mod.rs:3 `kind::run` = crate::check::kind::run"),
        "{text}"
    );
    // In the folder graph the two top-level files still make one; check/'s stays inside it.
    assert_eq!(
        cycles(&g.folder_edges()),
        vec![["src/agent.rs", "src/http.rs", "src/agent.rs"]
            .map(String::from)
            .to_vec()]
    );
}

#[test]
fn scanner_finds_folder_cycles_that_no_file_cycle_shows() {
    let dir = tree(&[
        ("lib.rs", "pub mod compare;\npub mod system;\n"),
        ("compare/mod.rs", "pub mod diff;\npub mod keys;\n"),
        ("compare/diff.rs", "use crate::system::System;\n"),
        ("compare/keys.rs", "pub struct Key;\n"),
        ("system/mod.rs", "pub mod sql;\npub struct System;\n"),
        ("system/sql.rs", "use crate::compare::keys::Key;\n"),
    ]);
    let g = scan(&dir.path().join("src"), "app");
    assert!(cycles(&g.file_edges()).is_empty());
    let found = cycles(&g.folder_edges());
    assert_eq!(
        found.iter().map(|c| c.join(" -> ")).collect::<Vec<_>>(),
        vec!["src/compare/ -> src/system/ -> src/compare/"]
    );
    let text = g.explain(&found, Graph::folder_edges);
    assert!(
        text.contains("src/compare/diff.rs:1 `crate::system::System`")
            && text.contains("src/system/sql.rs:1 `crate::compare::keys::Key`"),
        "{text}"
    );
}

#[test]
fn scanner_lists_every_edge_of_a_longer_cycle_once() {
    let dir = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b.rs", "use crate::c::C;\npub struct B;\n"),
        ("c.rs", "use crate::a::A;\npub struct C;\n"),
    ]);
    let g = scan(&dir.path().join("src"), "app");
    assert_eq!(
        cycles(&g.file_edges()),
        vec![["src/a.rs", "src/b.rs", "src/c.rs", "src/a.rs"]
            .map(String::from)
            .to_vec()]
    );
}

#[test]
fn engine_names_are_found_in_code_and_comments_of_checks_only() {
    let dir = tree(&[
        ("lib.rs", "pub mod check;\npub mod system;\n"),
        (
            "check/mod.rs",
            "//! Runs checks.\nmod kind;\n/// Not on PostgreSQL.\nfn f() {}\n",
        ),
        (
            "check/kind.rs",
            "fn g(k: EngineKind) {}\nconst S: &str = \"sqlite_master\";\n// MariaDB and MySQL\n",
        ),
        (
            "system/mod.rs",
            "//! PostgreSQL, MySQL, SQLite: allowed here.\n",
        ),
    ]);
    assert_eq!(
        engine_mentions(&dir.path().join("src")),
        vec![
            "src/check/kind.rs:1: fn g(k: EngineKind) {} [enginekind]",
            "src/check/kind.rs:2: const S: &str = \"sqlite_master\"; [sqlite]",
            "src/check/kind.rs:3: // MariaDB and MySQL [mysql, mariadb]",
            "src/check/mod.rs:3: /// Not on PostgreSQL. [postgres]",
        ]
    );
}
