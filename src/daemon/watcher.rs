//! Helpdesk → dirty set. A change is recorded before the cursor moves past it (rule 1), with the
//! listing's snapshot of the ticket where the adapter gives one, and a poll asks only for what
//! changed since the cursor (rule 7).

use super::{Context, backoff};
use std::sync::Arc;
use std::time::Duration;
use teledesk_adapter::{ChangeBatch, Helpdesk, Ticket, TicketId};
use tokio_util::sync::CancellationToken;

/// How long one poll may take before the loop counts as stalled, on top of the usual budget.
const LONG_POLL: Duration = Duration::from_secs(600);
/// Longer than any daemon runs.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub(crate) async fn run(ctx: Arc<Context>, helpdesk: String, cancel: CancellationToken) {
    let interval = ctx
        .poll_intervals
        .get(&helpdesk)
        .copied()
        .unwrap_or_default();
    if interval.is_zero() {
        tracing::info!(%helpdesk, "Polling is off (poll_interval = \"0s\").");
        // Waits for the stop rather than returning: a loop that returns is one that failed, and
        // the supervisor would start it again and again.
        super::supervisor::quiet_for(FOREVER);
        cancel.cancelled().await;
        return;
    }
    let Some(adapter) = ctx.helpdesk(&helpdesk).cloned() else {
        return;
    };
    let mut failures = 0u32;
    loop {
        super::supervisor::beat();
        if super::store_watch::paused(&ctx, &cancel).await {
            if cancel.is_cancelled() {
                return;
            }
            continue;
        }
        let cursor = match ctx.store.read().cursor(&helpdesk) {
            Ok(cursor) => cursor.unwrap_or_default(),
            Err(error) => {
                tracing::error!(%helpdesk, %error, "Cannot read the poll cursor.");
                return;
            }
        };
        // A poll after a long outage may page through many changes at the vendor's pace.
        super::supervisor::quiet_for(LONG_POLL);
        let started = std::time::Instant::now();
        let polled = adapter.changes_since(&cursor).await;
        crate::telemetry::polled(&helpdesk, polled.is_ok(), started.elapsed());
        let listed = match polled {
            Ok(batch) => match staff_started(&ctx, &helpdesk, adapter.as_ref(), &batch).await {
                Ok(started) => Ok((batch, started)),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let wait = match listed {
            Ok((batch, started)) => {
                failures = 0;
                ctx.health.polled(&helpdesk);
                let recorded = ctx.store.write(|tx| {
                    let mut marked = 0;
                    for change in &batch.changes {
                        if let Some(local) = tx.ticket_by_helpdesk(&helpdesk, &change.ticket)? {
                            tx.mark_changed(local, change.snapshot.clone())?;
                            marked += 1;
                        }
                    }
                    // In the transaction that moves the cursor past them: published once, and
                    // never skipped.
                    for ticket in &started {
                        let published = crate::engine::staff::publish(
                            tx,
                            &ctx.settings,
                            &helpdesk,
                            ticket,
                            super::now(),
                        )?;
                        marked += usize::from(published.is_some());
                    }
                    tx.set_cursor(&helpdesk, &batch.cursor);
                    Ok(marked)
                });
                match recorded {
                    Ok(marked) if marked > 0 => {
                        tracing::debug!(%helpdesk, marked, "Tickets changed.");
                        let _ = ctx.store.flush().await;
                        ctx.signals.jobs.notify_one();
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%helpdesk, %error, "Cannot record changes."),
                }
                interval
            }
            Err(error) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(%helpdesk, %error, "Polling the helpdesk failed.");
                }
                error
                    .retry_after()
                    .unwrap_or_default()
                    .max(interval)
                    .max(backoff(failures).min(interval * 4))
            }
        };
        super::supervisor::quiet_for(wait);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The tickets of a batch teledesk does not have yet that staff addressed to a chat, read from
/// the helpdesk (where the adapter declares [`teledesk_adapter::Capability::staff_tickets`]).
///
/// A read that fails fails the whole poll, so the cursor stays before a ticket that may be
/// addressed; one that is gone is skipped.
async fn staff_started(
    ctx: &Context,
    helpdesk: &str,
    adapter: &dyn Helpdesk,
    batch: &ChangeBatch,
) -> teledesk_adapter::Result<Vec<Ticket>> {
    if !adapter.capability().staff_tickets {
        return Ok(Vec::new());
    }
    let unknown: Vec<&TicketId> = {
        let tx = ctx.store.read();
        batch
            .changes
            .iter()
            .filter(|change| {
                tx.ticket_by_helpdesk(helpdesk, &change.ticket)
                    .is_ok_and(|local| local.is_none())
            })
            .map(|change| &change.ticket)
            .collect()
    };
    let mut started = Vec::new();
    for id in unknown {
        match adapter.addressed_ticket(id).await {
            Ok(Some(ticket)) => started.push(ticket),
            Ok(None) => {}
            Err(error) if error.kind() == teledesk_adapter::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(started)
}
