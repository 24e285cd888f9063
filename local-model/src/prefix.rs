//! The kept prompt starts: the attention state of the personality's system prompt (pinned, read at
//! start-up) and of the longest token prefix two successive prompts shared (more when one person
//! writes twice), so the next prompt that starts the same way reads only what follows. The
//! pinned start stays when the other is replaced, so a prompt from someone else still starts from
//! the personality instead of being read whole.

use crate::llama::ModelWeights;

/// Shorter shared starts are not worth keeping.
const MIN_KEEP_TOKENS: usize = 16;

#[derive(Default)]
pub(crate) struct PrefixCache {
    pinned: Option<(Vec<u32>, ModelWeights)>,
    kept: Option<(Vec<u32>, ModelWeights)>,
    last: Vec<u32>,
}

/// Where reading a prompt starts and where its state is worth keeping.
pub(crate) struct Plan {
    /// The state to start from: the kept one, or the empty model.
    pub start: ModelWeights,
    /// Tokens already read in `start`.
    pub reused: usize,
    /// Read up to here, keep the state, then read the rest; `reused` when nothing new is kept.
    /// Always below the prompt's length, so its last token is read for the logits.
    pub keep_at: usize,
}

impl Plan {
    pub fn fresh(base: &ModelWeights) -> Plan {
        Plan {
            start: base.clone(),
            reused: 0,
            keep_at: 0,
        }
    }
}

impl PrefixCache {
    pub fn plan(&self, tokens: &[u32], base: &ModelWeights) -> Plan {
        let limit = tokens.len().saturating_sub(1);
        let (start, reused) = [&self.kept, &self.pinned]
            .into_iter()
            .flatten()
            .filter(|(kept, _)| kept.len() <= limit && tokens.starts_with(kept))
            .max_by_key(|(kept, _)| kept.len())
            .map_or_else(
                || (base.clone(), 0),
                |(kept, state)| (state.clone(), kept.len()),
            );
        let common = common_prefix(&self.last, tokens).min(limit);
        let keep_at = if common >= MIN_KEEP_TOKENS && common > reused {
            common
        } else {
            reused
        };
        Plan {
            start,
            reused,
            keep_at,
        }
    }

    pub fn keep(&mut self, tokens: &[u32], state: &ModelWeights) {
        self.kept = Some((tokens.to_vec(), state.clone()));
    }

    /// Keeps `tokens` for good (until [`PrefixCache::default`] replaces the cache).
    pub fn pin(&mut self, tokens: &[u32], state: &ModelWeights) {
        self.pinned = Some((tokens.to_vec(), state.clone()));
    }

    pub fn saw(&mut self, tokens: &[u32]) {
        self.last = tokens.to_vec();
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn the_common_prefix_stops_at_the_first_difference() {
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4, 5]), 2);
        assert_eq!(common_prefix(&[], &[1]), 0);
        assert_eq!(common_prefix(&[1, 2], &[1, 2]), 2);
    }
}
