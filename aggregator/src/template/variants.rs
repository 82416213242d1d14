//! Word variants: when lines that are otherwise one template differ by a
//! plain word at one position, the first few variants stay apart (`VM
//! Started`, `VM Stopped` are different messages); once
//! [`super::MinerConfig::word_variants`] distinct words were seen there, the
//! position is a variable (a user or test name) and every variant template
//! is merged into the first, whose id the others [`Miner::resolve`] to.
//! Owns the variant bookkeeping and merging; it must never search the tree.

use super::{Masked, Miner, TemplateId, Token};

/// Merge redirects kept; beyond it the oldest are forgotten all at once
/// (a merged id then resolves to itself and finds no template).
const MAX_REDIRECTS: usize = super::config::DEFAULT_MAX_CLUSTERS;

impl Miner {
    /// The id a template goes by now: itself, or the template it was
    /// merged into (and so on).
    pub fn resolve(&self, mut id: TemplateId) -> TemplateId {
        // Merges only point to older ids, so this ends.
        while let Some(&to) = self.merged.get(&id.0) {
            id = to;
        }
        id
    }

    /// A line kept out of template `near` by one plain word at `pos`:
    /// either a new variant template, or, at the threshold, the merge of
    /// all variants (the line joins the merged template). Returns its slot.
    pub(super) fn word_variant(&mut self, near: u32, pos: u32, m: &Masked) -> u32 {
        let k = self.config.word_variants;
        let into = self.template_at(near).id;
        let live: Vec<TemplateId> = self.slots[near as usize]
            .variants
            .iter()
            .filter(|(p, id)| *p == pos && *id != into && self.by_id.contains_key(&id.0))
            .map(|(_, id)| *id)
            .collect();
        // The near template, its live variants, and this line's word.
        if k == 0 || live.len() + 2 < k {
            // Keep `near` out of the eviction the new template may cause.
            self.touch(near);
            let slot = self.create(m);
            let id = self.template_at(slot).id;
            let still = self.slots[near as usize]
                .template
                .as_ref()
                .is_some_and(|t| t.id == into);
            if still && slot != near {
                let v = &mut self.slots[near as usize].variants;
                v.retain(|(p, id)| *p != pos || live.contains(id));
                v.push((pos, id));
            }
            return slot;
        }
        for id in live {
            let Some(&slot) = self.by_id.get(&id.0) else {
                continue;
            };
            if let Some(t) = self.remove(slot) {
                let target = self.slots[near as usize]
                    .template
                    .as_mut()
                    .expect("near slot holds a template");
                target.count += t.count;
                self.redirect(t.id, into);
            }
        }
        let s = &mut self.slots[near as usize];
        s.variants.retain(|(p, _)| *p != pos);
        let t = s.template.as_mut().expect("near slot holds a template");
        t.tokens[pos as usize] = Token::Wildcard;
        t.words[pos as usize] = false;
        self.generalise(near, m);
        self.touch(near);
        near
    }

    fn redirect(&mut self, from: TemplateId, to: TemplateId) {
        if self.merged.len() >= MAX_REDIRECTS {
            self.merged.clear();
        }
        self.merged.insert(from.0, to);
    }
}
