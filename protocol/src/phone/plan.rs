//! Planning from a verified index: which batches to fetch after the head, or why the index
//! cannot be followed (rollback, fork, gap, overflow). Pure functions over sequences.

use super::chain_state::{ChainHead, Resync};
use crate::error::{Error, FollowError, VerifyError};
use crate::wire::batch::BatchHeader;
use crate::wire::index::IndexEntry;

/// Why an index cannot be followed: refused outright, or a gap a resync could bridge (with
/// what it would give up and the position of the entry it would resume at).
pub(super) enum Planned {
    Refused(FollowError),
    Gap(FollowError, Resync, usize),
}

/// The entries to fetch after `head`, oldest first, or why there are none to follow.
pub(super) fn plan<'a>(
    head: Option<&ChainHead>,
    entries: &'a [IndexEntry],
) -> Result<&'a [IndexEntry], Planned> {
    let after = match head {
        Some(h) => {
            let newest = entries.last().map(|e| e.sequence);
            if newest.is_none_or(|n| n < h.sequence) {
                return Err(Planned::Refused(FollowError::ChainRollback {
                    head: h.sequence,
                    newest_listed: newest,
                }));
            }
            let at = entries.partition_point(|e| e.sequence < h.sequence);
            if entries[at].sequence == h.sequence
                && (entries[at].hash != h.hash || entries[at].window_end != h.window_end)
            {
                return Err(Planned::Refused(FollowError::ChainFork {
                    sequence: h.sequence,
                }));
            }
            let next = h
                .sequence
                .checked_add(1)
                .ok_or(Planned::Refused(FollowError::SequenceOverflow))?;
            let from = entries.partition_point(|e| e.sequence <= h.sequence);
            match entries.get(from) {
                Some(e) if e.sequence != next => {
                    let resume = last_run(entries, from);
                    return Err(Planned::Gap(
                        FollowError::ChainGap {
                            have: h.sequence,
                            offered: e.sequence,
                        },
                        Resync {
                            dropped_head: Some(h.sequence),
                            skipped_from: next,
                            resume_at: entries[resume].sequence,
                        },
                        resume,
                    ));
                }
                _ => from,
            }
        }
        None => 0,
    };
    // Sequences are strictly increasing (the decoder checks), so `w[0] + 1` cannot overflow.
    if let Some(i) = (after..entries.len().saturating_sub(1))
        .find(|&i| entries[i + 1].sequence != entries[i].sequence + 1)
    {
        let resume = last_run(entries, after);
        return Err(Planned::Gap(
            FollowError::ChainGap {
                have: entries[i].sequence,
                offered: entries[i + 1].sequence,
            },
            Resync {
                dropped_head: head.map(|h| h.sequence),
                skipped_from: head.map_or(entries[after].sequence, |h| h.sequence + 1),
                resume_at: entries[resume].sequence,
            },
            resume,
        ));
    }
    Ok(&entries[after..])
}

/// The start of the last run of consecutive sequences in `entries[from..]` (non-empty).
fn last_run(entries: &[IndexEntry], from: usize) -> usize {
    (from + 1..entries.len())
        .rev()
        .find(|&i| entries[i].sequence != entries[i - 1].sequence + 1)
        .unwrap_or(from)
}

/// Checks that the authentic batch `h` continues `head`: the same place in the chain with
/// another predecessor is a fork; a window that does not continue breaks the chain.
pub(super) fn check_continues(head: &ChainHead, h: &BatchHeader) -> Result<(), Error> {
    if head.sequence.checked_add(1) != Some(h.sequence) {
        return Err(VerifyError::BrokenChain("sequence does not follow").into());
    }
    if h.prev_hash != head.hash {
        return Err(FollowError::ChainFork {
            sequence: head.sequence,
        }
        .into());
    }
    if h.window_start != head.window_end {
        return Err(VerifyError::BrokenChain("windows are not contiguous").into());
    }
    Ok(())
}
