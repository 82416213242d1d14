//! The streaming template miner: turns log lines into templates such as
//! `Connection from <*> closed after <*>`, in the spirit of Drain (He et
//! al., ICWS 2017), in pure Rust.
//!
//! A line is split on whitespace and its variable tokens are masked
//! ([`mask`], an ordered list of named instructions); a fixed-depth prefix
//! tree (`tree.rs`) keyed by the token count and the leading key tokens
//! picks a handful of candidate templates; the most similar one above
//! [`MinerConfig::similarity`] takes the line and generalises in place
//! (every token that differs becomes `<*>`); otherwise the line starts a
//! new template. Memory is bounded: beyond [`MinerConfig::max_clusters`]
//! templates the least recently matched one is evicted (and counted in
//! [`Miner::evicted`]); its id is never reused, and a line of its shape
//! later starts a new template with a new id.
//!
//! Owns mining, matching, template text and regexes, and the miner's saved
//! state. It must never read files or know a log format: one
//! configuration serves every log.
//!
//! ```
//! use earlyexit_aggregator::template::{Miner, MinerConfig};
//! let mut miner = Miner::new(MinerConfig::default()).unwrap();
//! let a = miner.add("Connection from 10.0.0.1 closed after 15ms");
//! let b = miner.add("Connection from 10.0.0.7 closed after 2s");
//! assert_eq!(a, b);
//! let t = miner.template(a).unwrap();
//! assert_eq!(t.text(), "Connection from <*> closed after <*>");
//! assert!(t.to_regex().is_match("Connection from 192.168.1.1 closed after 1.5s"));
//! assert_eq!(miner.match_only("Connection from ::1 closed after 3ms"), Some(a));
//! ```

mod config;
pub mod mask;
mod persist;
mod shapes;
mod tree;
mod variants;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

pub use config::{
    ConfigError, DEFAULT_CACHE_SIZE, DEFAULT_MAX_CHILDREN, DEFAULT_MAX_CLUSTERS, DEFAULT_MAX_SCAN,
    DEFAULT_MAX_TOKEN_LEN, DEFAULT_MAX_TOKENS, DEFAULT_PREFIX_TOKENS, DEFAULT_SIMILARITY,
    DEFAULT_WORD_VARIANTS, MinerConfig,
};
pub use mask::{DEFAULT_MASKS, MaskKind, WILDCARD};
pub use persist::{PersistError, STATE_VERSION};

use mask::{Masked, Masker};
use tree::{Path, Tree};

/// The identity of a template. Ids are handed out in increasing order and
/// never reused, also after an eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateId(pub u64);

/// One token of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Token {
    /// Text every line of the template has here; may hold masked parts
    /// written `<*>` (`kernel[<*>]:`).
    Literal(Box<str>),
    /// A token that differed between lines of the template.
    Wildcard,
    /// The rest of a line longer than `max_tokens` tokens: anything.
    Rest,
}

/// A mined template: its tokens and how many lines it has taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    id: TemplateId,
    tokens: Vec<Token>,
    count: u64,
    /// Whether each token is a plain literal word (derived from `tokens`).
    #[serde(skip)]
    words: Vec<bool>,
}

/// The characters the miner splits tokens on (`u8::is_ascii_whitespace`).
const SPACE_CLASS: &str = r"[ \t\n\x0C\r]";
const TOKEN_CLASS: &str = r"[^ \t\n\x0C\r]";

impl Template {
    /// The template's id.
    pub fn id(&self) -> TemplateId {
        self.id
    }

    /// Lines that joined this template (in this miner, including lines
    /// counted before a save).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The tokens.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The template as text: tokens joined by one space, variables as
    /// `<*>`, a truncated rest as `<...>`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            match t {
                Token::Literal(l) => s.push_str(l),
                Token::Wildcard => s.push_str(WILDCARD),
                Token::Rest => s.push_str("<...>"),
            }
        }
        s
    }

    /// An anchored regular expression (as text) that matches every line
    /// this template took, ANSI escape codes removed: literal text is
    /// escaped, a variable token matches one whitespace-free token or a
    /// bracketed group (`[IPC Server handler 7]`), a masked part matches a
    /// whitespace-free run (any run inside a group), and whitespace
    /// matches any run of spaces, tabs and CR.
    pub fn regex_source(&self) -> String {
        let mut s = format!("^{SPACE_CLASS}*");
        for (i, t) in self.tokens.iter().enumerate() {
            if i > 0 {
                let _ = write!(s, "{SPACE_CLASS}+");
            }
            match t {
                Token::Literal(l) => {
                    // A group token (`[…]`, maybe with spaces) may have
                    // had spaces in its masked parts.
                    let masked = if l.starts_with('[') || l.contains(' ') {
                        r"[^\r\n]+?"
                    } else {
                        concat!(r"[^ \t\n\x0C\r]", "+?")
                    };
                    for (j, part) in l.split(WILDCARD).enumerate() {
                        if j > 0 {
                            s.push_str(masked);
                        }
                        for (k, word) in part.split(' ').enumerate() {
                            if k > 0 {
                                let _ = write!(s, "{SPACE_CLASS}+");
                            }
                            s.push_str(&regex::escape(word));
                        }
                    }
                }
                Token::Wildcard => {
                    let _ = write!(s, r"(?:{TOKEN_CLASS}+|\[[^\r\n]*?\])");
                }
                Token::Rest => s.push_str(".*"),
            }
        }
        let _ = write!(s, "{SPACE_CLASS}*$");
        s
    }

    /// [`Template::regex_source`] compiled.
    pub fn to_regex(&self) -> regex::Regex {
        // The source is built only from escaped text and fixed classes,
        // so it always compiles; the size limit is the only way to fail.
        regex::RegexBuilder::new(&self.regex_source())
            .size_limit(64 << 20)
            .build()
            .unwrap_or_else(|_| regex::Regex::new("^$").expect("a trivial regex compiles"))
    }
}

/// A template slot: the template, where it hangs in the tree, and its
/// place in the least-recently-used list.
#[derive(Debug)]
struct Slot {
    template: Option<Template>,
    /// The leaves the template hangs at, with the tree path to each
    /// (`None` = wildcard child), kept so a saved miner is rebuilt with the
    /// same tree. The first is where it was created; more are added when
    /// lines from another leaf join it (a header word such as a host name
    /// sent them down another branch).
    leaves: Vec<(u32, Path)>,
    /// The token-count bucket it belongs to.
    len_key: u64,
    /// Templates made for lines that differed from this one by a single
    /// plain word: (position, their id). See [`MinerConfig::word_variants`].
    variants: Vec<(u32, TemplateId)>,
    prev: u32,
    next: u32,
}

const NIL: u32 = u32::MAX;

/// What a search found for a line.
enum Found {
    /// A template similar enough (slot), and whether at the line's leaf.
    Match(u32, bool),
    /// The closest template differs by one plain word at this position.
    Blocked(u32, u32),
    /// Nothing close.
    Nothing,
}

/// Leaves one template may hang at (bounds the tree's lists when one
/// template is reached from many header variants; beyond it lines still
/// find the template, by the fallback search).
const MAX_LEAVES: usize = 8;

/// The streaming template miner. See the module docs.
#[derive(Debug)]
pub struct Miner {
    config: MinerConfig,
    masker: Masker,
    tree: Tree,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_id: tree::FxMap<u64, u32>,
    /// Template slots by token count (the scope of the fallback search).
    by_len: tree::FxMap<u64, Vec<u32>>,
    /// Most recently used.
    head: u32,
    /// Least recently used: evicted first.
    tail: u32,
    live: usize,
    next_id: u64,
    lines: u64,
    evicted: u64,
    scratch: Masked,
    /// Masked lines already seen → the slot and id of their template; a
    /// line masked the same way joins the same template without a search.
    cache: tree::FxMap<u64, (u32, TemplateId)>,
    /// Ids of templates merged into another one → that one.
    merged: tree::FxMap<u64, TemplateId>,
}

impl Miner {
    /// A miner with no templates; the configuration is checked first.
    pub fn new(config: MinerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            masker: Masker::new(
                &config.masks,
                config.max_tokens,
                config.max_token_len,
                config.prefix_tokens,
            ),
            tree: Tree::new(config.prefix_tokens, config.max_children),
            config,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: tree::FxMap::default(),
            by_len: tree::FxMap::default(),
            head: NIL,
            tail: NIL,
            live: 0,
            next_id: 0,
            lines: 0,
            evicted: 0,
            scratch: Masked::default(),
            cache: tree::FxMap::default(),
            merged: tree::FxMap::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Mines one line (a trailing CR/LF is ignored, inner CRs count as
    /// spaces) and returns the template it joined or started.
    pub fn add(&mut self, line: &str) -> TemplateId {
        self.lines += 1;
        let mut m = std::mem::take(&mut self.scratch);
        self.masker.mask(line, &mut m);
        let fp = m.fingerprint();
        if let Some(slot) = self.cached(fp, &m) {
            let t = self.slots[slot as usize]
                .template
                .as_mut()
                .expect("cached slot was checked");
            t.count += 1;
            let id = t.id;
            self.touch(slot);
            self.scratch = m;
            return id;
        }
        let slot = match self.best(&m) {
            Found::Match(slot, at_leaf) => {
                if !at_leaf {
                    self.also_hang(slot, &m);
                }
                self.generalise(slot, &m);
                self.touch(slot);
                slot
            }
            Found::Blocked(near, pos) => self.word_variant(near, pos, &m),
            Found::Nothing => self.create(&m),
        };
        let id = self.template_at(slot).id;
        if self.config.cache_size > 0 {
            if self.cache.len() >= self.config.cache_size {
                self.cache.clear();
            }
            self.cache.insert(fp, (slot, id));
        }
        self.scratch = m;
        id
    }

    /// The slot a line masked as `m` joined before, if that template is
    /// still there and still covers it (every literal equal). A template
    /// only ever generalises, so a line it took once it takes again.
    fn cached(&self, fp: u64, m: &Masked) -> Option<u32> {
        let &(slot, id) = self.cache.get(&fp)?;
        let t = self.slots.get(slot as usize)?.template.as_ref()?;
        let len = t.tokens.len() - usize::from(m.truncated);
        let covers = t.id == id
            && len == m.len()
            && t.tokens.iter().zip(m.tokens()).all(|(tok, l)| match tok {
                Token::Literal(lit) => **lit == *l,
                Token::Wildcard | Token::Rest => true,
            });
        covers.then_some(slot)
    }

    /// The template `line` would join, without changing anything (no new
    /// template, no generalisation, no count, no recency).
    pub fn match_only(&self, line: &str) -> Option<TemplateId> {
        let mut m = Masked::default();
        self.masker.mask(line, &mut m);
        if let Some(slot) = self.cached(m.fingerprint(), &m) {
            return Some(self.template_at(slot).id);
        }
        match self.best(&m) {
            Found::Match(s, _) => Some(self.template_at(s).id),
            Found::Blocked(..) | Found::Nothing => None,
        }
    }

    /// A template by id; `None` once it was evicted. An id merged into
    /// another template gives that one (see [`Miner::resolve`]).
    pub fn template(&self, id: TemplateId) -> Option<&Template> {
        let id = self.resolve(id);
        let slot = *self.by_id.get(&id.0)?;
        self.slots[slot as usize].template.as_ref()
    }

    /// Every live template, most recently used first.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let s = &self.slots[cur as usize];
            cur = s.next;
            s.template.as_ref()
        })
    }

    /// Live templates.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no line was mined yet (or every template was evicted).
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Lines given to [`Miner::add`].
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Templates evicted to stay within [`MinerConfig::max_clusters`].
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Prefix-tree nodes allocated (memory grows with these and templates).
    pub fn tree_nodes(&self) -> usize {
        self.tree.node_count()
    }

    fn template_at(&self, slot: u32) -> &Template {
        self.slots[slot as usize]
            .template
            .as_ref()
            .expect("slots on a leaf or in the LRU list hold a template")
    }

    /// The most similar template, if similar enough, and whether it was
    /// found at the line's own leaf. The leaf is searched first; when it
    /// has no match, up to [`MinerConfig::max_scan`] templates with the
    /// same token count are. Without a match, the template that one
    /// differing plain word kept the line out of, if any, with the
    /// position ([`Found::Blocked`]).
    fn best(&self, m: &Masked) -> Found {
        let leaf = self.tree.find_leaf(m);
        let at_leaf = leaf.map_or(&[][..], |l| self.tree.clusters(l));
        let (hit, mut blocked) = self.most_similar(m, at_leaf.iter().copied());
        if let Some(s) = hit {
            return Found::Match(s, true);
        }
        if let Some(bucket) = self.by_len.get(&tree::len_key(m.len(), m.truncated)) {
            let rest = bucket
                .iter()
                .copied()
                .filter(|s| !at_leaf.contains(s))
                .take(self.config.max_scan);
            let (hit, b) = self.most_similar(m, rest);
            if let Some(s) = hit {
                return Found::Match(s, false);
            }
            blocked = blocked.or(b);
        }
        match blocked {
            Some((slot, pos)) => Found::Blocked(slot, pos),
            None => Found::Nothing,
        }
    }

    fn most_similar(
        &self,
        m: &Masked,
        slots: impl Iterator<Item = u32>,
    ) -> (Option<u32>, Option<(u32, u32)>) {
        let mut best: Option<(f64, u32)> = None;
        let mut blocked: Option<(f64, u32, u32)> = None;
        for slot in slots {
            let sim = similarity(
                self.template_at(slot),
                m,
                self.config.words_constant,
                self.config.similarity,
            );
            if sim.score < self.config.similarity {
                continue;
            }
            // Ties go to the older template, so the choice never depends
            // on the order of a leaf's list (which a reload changes).
            let id = self.template_at(slot).id;
            let better = |score: f64, other: u32| {
                score > sim.score || (score == sim.score && self.template_at(other).id < id)
            };
            match sim.blocked {
                None if !best.is_some_and(|(b, s)| better(b, s)) => best = Some((sim.score, slot)),
                Some(p) if !blocked.is_some_and(|(b, s, _)| better(b, s)) => {
                    blocked = Some((sim.score, slot, p));
                }
                _ => {}
            }
        }
        (best.map(|(_, s)| s), blocked.map(|(_, s, p)| (s, p)))
    }

    /// Hangs a template found by the fallback search at the line's leaf
    /// too, so the next such line finds it directly.
    fn also_hang(&mut self, slot: u32, m: &Masked) {
        if self.slots[slot as usize].leaves.len() >= MAX_LEAVES {
            return;
        }
        let (leaf, path) = self.tree.leaf_for_insert(m);
        let s = &mut self.slots[slot as usize];
        if s.leaves.iter().all(|(l, _)| *l != leaf) {
            s.leaves.push((leaf, path));
            self.tree.attach(leaf, slot);
        }
    }

    fn generalise(&mut self, slot: u32, m: &Masked) {
        let t = self.slots[slot as usize]
            .template
            .as_mut()
            .expect("matched slot holds a template");
        t.count += 1;
        for (tok, line_tok) in t.tokens.iter_mut().zip(m.tokens()) {
            if let Token::Literal(l) = tok
                && **l != *line_tok
            {
                *tok = Token::Wildcard;
            }
        }
        for (w, tok) in t.words.iter_mut().zip(&t.tokens) {
            *w &= matches!(tok, Token::Literal(_));
        }
    }

    fn create(&mut self, m: &Masked) -> u32 {
        if self.live >= self.config.max_clusters {
            self.evict_lru();
        }
        let mut tokens: Vec<Token> = m.tokens().map(|t| Token::Literal(t.into())).collect();
        if m.truncated {
            tokens.push(Token::Rest);
        }
        let id = TemplateId(self.next_id);
        self.next_id += 1;
        let (leaf, path) = self.tree.leaf_for_insert(m);
        let words = m.words.clone();
        let template = Template {
            id,
            words,
            tokens,
            count: 1,
        };
        self.place(
            template,
            vec![(leaf, path)],
            tree::len_key(m.len(), m.truncated),
        )
    }

    /// Puts a template in a free slot at its leaves, most recently used.
    fn place(&mut self, template: Template, leaves: Vec<(u32, Path)>, len_key: u64) -> u32 {
        let id = template.id;
        let slot = Slot {
            template: Some(template),
            leaves,
            len_key,
            variants: Vec::new(),
            prev: NIL,
            next: NIL,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        for (leaf, _) in &self.slots[idx as usize].leaves {
            self.tree.attach(*leaf, idx);
        }
        self.by_len.entry(len_key).or_default().push(idx);
        self.by_id.insert(id.0, idx);
        self.push_front(idx);
        self.live += 1;
        idx
    }

    fn evict_lru(&mut self) {
        let idx = self.tail;
        if idx == NIL {
            return;
        }
        self.remove(idx);
        self.evicted += 1;
    }

    /// Takes a template out of the tree, the LRU list and the id map.
    fn remove(&mut self, idx: u32) -> Option<Template> {
        self.unlink(idx);
        let s = &mut self.slots[idx as usize];
        let leaves = std::mem::take(&mut s.leaves);
        let len_key = s.len_key;
        s.variants.clear();
        let t = s.template.take();
        if let Some(t) = &t {
            self.by_id.remove(&t.id.0);
        }
        for (leaf, _) in leaves {
            self.tree.detach(leaf, idx);
        }
        if let Some(b) = self.by_len.get_mut(&len_key)
            && let Some(i) = b.iter().position(|&s| s == idx)
        {
            b.swap_remove(i);
        }
        self.free.push(idx);
        self.live -= 1;
        t
    }

    fn touch(&mut self, idx: u32) {
        if self.head != idx {
            self.unlink(idx);
            self.push_front(idx);
        }
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next) = {
            let s = &self.slots[idx as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[idx as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn push_front(&mut self, idx: u32) {
        let old = self.head;
        {
            let s = &mut self.slots[idx as usize];
            s.prev = NIL;
            s.next = old;
        }
        if old == NIL {
            self.tail = idx;
        } else {
            self.slots[old as usize].prev = idx;
        }
        self.head = idx;
    }
}

/// Share of a line's tokens that equal the template's literal tokens.
/// Left out of the share: key tokens that are equal (the tree already
/// matched them, and in a log with a header they are its constant words:
/// counting them would make every short message look alike; a key token
/// that differs, as found by the fallback search, counts as a
/// difference), and positions where both hold a fully masked token
/// (timestamps, pids). A wildcard of the template counts as a difference
/// (as in Drain), so a template that generalised many positions does not
/// swallow every line of its length. With `words_constant`, two different
/// plain words make the share 0. Stops early (returning 0) once the share
/// can no longer reach `threshold`.
fn similarity(t: &Template, m: &Masked, words_constant: bool, threshold: f64) -> Sim {
    let mut equal = 0u32;
    let mut counted = 0u32;
    let mut blocked = None;
    const NONE: Sim = Sim {
        score: 0.0,
        blocked: None,
    };
    let mut keys = m.keys.iter().peekable();
    let n = t.tokens.len().min(m.len());
    for i in 0..n {
        let l = m.token(i);
        let is_key = keys.peek().is_some_and(|&&k| k as usize == i);
        if is_key {
            keys.next();
        }
        match &t.tokens[i] {
            Token::Literal(lit) if **lit == *l => {
                if !is_key && l != WILDCARD {
                    equal += 1;
                    counted += 1;
                }
                continue;
            }
            Token::Literal(_) => {
                if words_constant && t.words[i] && m.words[i] {
                    if blocked.is_some() {
                        return NONE;
                    }
                    blocked = Some(i as u32);
                }
            }
            Token::Wildcard => {}
            Token::Rest => continue,
        }
        counted += 1;
        // The best still reachable: every remaining position equal.
        let left = (n - i - 1) as u32;
        if f64::from(equal + left) < threshold * f64::from(counted + left) {
            return NONE;
        }
    }
    let score = if counted == 0 {
        1.0
    } else {
        f64::from(equal) / f64::from(counted)
    };
    Sim { score, blocked }
}

/// A similarity, and the one position where two different plain words
/// kept the line out (the score then counts it as a plain difference).
#[derive(Debug, Clone, Copy)]
struct Sim {
    score: f64,
    blocked: Option<u32>,
}

/// Splits text into lines on CRLF, bare CR and LF, as Java's `readLine`
/// does (Loghub and CiDiff number lines this way). A final line ending
/// does not start an empty line.
pub fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let b = rest.as_bytes();
        match b.iter().position(|&c| c == b'\n' || c == b'\r') {
            Some(i) => {
                let line = &rest[..i];
                let skip = if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests;
