use super::*;
use crate::model::{Dirty, Job, JobKind, Outgoing, SendAction};
use teledesk_adapter::IdempotencyKey;
use time::OffsetDateTime;

fn job(n: i32) -> Job {
    Job {
        kind: JobKind::CreateTicket {
            key: IdempotencyKey::telegram(-1, n),
            subject: format!("s{n}"),
            description: String::new(),
            files: vec![],
            registered_at: OffsetDateTime::UNIX_EPOCH,
            source_url: None,
            follow_up_of: None,
            intake: Default::default(),
        },
        attempts: 0,
        not_before: OffsetDateTime::UNIX_EPOCH,
        boot: 1,
        last_error: None,
        uncertain: false,
    }
}

#[test]
fn boot_counter_and_schema_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.boot(), 1);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.boot(), 2);
}

#[test]
fn a_failed_write_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let result: Result<()> = store.write(|tx| {
        tx.accept_update(5, &serde_json::json!({"update_id": 5}))?;
        Err(StoreError::Sled(sled::Error::Unsupported("test".into())))
    });
    assert!(result.is_err());
    assert_eq!(store.read().inbox_len(), 0);
}

#[test]
fn jobs_are_ordered_per_ticket_and_heads_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.push_job(2, &job(1))?;
            tx.push_job(1, &job(2))?;
            tx.push_job(2, &job(3))?;
            // Reads inside the transaction see its own writes.
            assert_eq!(tx.job_heads()?.len(), 2);
            Ok(())
        })
        .unwrap();
    let read = store.read();
    let heads = read.job_heads().unwrap();
    assert_eq!(heads.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(heads[1].2, job(1));
    assert_eq!(read.jobs_of(2).unwrap().len(), 2);
}

#[test]
fn outbox_heads_are_per_chat_and_move_with_migration() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let item = |chat_id: i64, text: &str| Outgoing {
        chat_id,
        action: SendAction::Text {
            html: text.into(),
            reply_to: None,
            keyboard: None,
            ticket: None,
            dialogue_user: None,
        },
        attempts: 0,
        not_before: OffsetDateTime::UNIX_EPOCH,
        sent_parts: Vec::new(),
    };
    store
        .write(|tx| {
            tx.push_outgoing(&item(-5, "a"))?;
            tx.push_outgoing(&item(-5, "b"))?;
            tx.push_outgoing(&item(-1001, "c"))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(store.read().outbox_heads().unwrap().len(), 2);
    store.write(|tx| tx.move_outbox(-5, -1002)).unwrap();
    let heads = store.read().outbox_heads().unwrap();
    assert!(heads.iter().all(|(_, o)| o.chat_id != -5));
    assert_eq!(store.read().outbox_len(), 3);
}

fn update(id: i64, text: &str) -> serde_json::Value {
    serde_json::json!({"update_id": id, "message": {"message_id": 1, "text": text}})
}

fn inbox_texts(store: &Store) -> Vec<String> {
    store
        .read()
        .inbox(100)
        .unwrap()
        .into_iter()
        .map(|(_, u)| {
            u.unwrap()["message"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn an_outbox_item_is_found_after_its_group_became_a_supergroup() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let item = Outgoing {
        chat_id: -5,
        action: SendAction::Card { ticket: 1 },
        attempts: 0,
        not_before: OffsetDateTime::UNIX_EPOCH,
        sent_parts: Vec::new(),
    };
    let seq = store.write(|tx| tx.push_outgoing(&item)).unwrap();
    store
        .write(|tx| {
            tx.put_chat_alias(-5, -1002);
            tx.move_outbox(-5, -1002)
        })
        .unwrap();
    let read = store.read();
    assert_eq!(read.outgoing(-5, seq).unwrap(), None);
    let found = read.outgoing_followed(-5, seq).unwrap().expect("followed");
    assert_eq!(found.chat_id, -1002);
    assert_eq!(read.outgoing_followed(-1002, seq).unwrap(), Some(found));
    assert_eq!(read.outgoing_followed(-5, seq + 1).unwrap(), None);
}

#[test]
fn an_outbox_item_queued_before_parts_were_recorded_loads_as_nothing_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A staff reply as the outbox held it before `sent_parts` existed.
    let old = br#"{"chat_id":-7,"action":{"type":"staff_reply","ticket":3,"comment":"c1","author":"Ivan","body":"hello","files":[]},"attempts":2,"not_before":"2026-01-01T00:00:00Z"}"#;
    store
        .tree()
        .unwrap()
        .insert(Space::Outbox.key(&outbox_key(-7, 42)), &old[..])
        .unwrap();
    let heads = store.read().outbox_heads().unwrap();
    assert_eq!(heads.len(), 1);
    let (seq, item) = &heads[0];
    assert_eq!((*seq, item.attempts), (42, 2));
    assert!(item.sent_parts.is_empty());

    // Parts recorded later read back, in order.
    let mut resumed = item.clone();
    resumed.sent_parts = vec![101, 102];
    store
        .write(|tx| {
            tx.put_outgoing(42, &resumed);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        store.read().outbox_heads().unwrap()[0].1.sent_parts,
        [101, 102]
    );
}

#[test]
fn the_inbox_keeps_arrival_order_whatever_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            for (id, text) in [(300, "a"), (100, "b"), (200, "c")] {
                assert!(tx.accept_update(id, &update(id, text))?);
            }
            tx.set_telegram_offset(301);
            Ok(())
        })
        .unwrap();
    assert_eq!(inbox_texts(&store), ["a", "b", "c"]);
    assert_eq!(store.read().telegram_offset().unwrap(), 301);
}

#[test]
fn a_repeated_update_is_taken_once_but_a_reused_id_is_new_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let taken = |id, text| {
        store
            .write(|tx| tx.accept_update(id, &update(id, text)))
            .unwrap()
    };
    assert!(taken(500, "first"));
    assert!(!taken(500, "first"), "the same delivery again");
    // Telegram restarted its sequence lower, then reached an id it had used before.
    assert!(taken(7, "after the restart"));
    assert!(taken(500, "another update with an old id"));
    assert!(!taken(7, "after the restart"));
    assert_eq!(
        inbox_texts(&store),
        [
            "first",
            "after the restart",
            "another update with an old id"
        ]
    );
    // The memory survives a restart of the daemon.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert!(
        !store
            .write(|tx| tx.accept_update(7, &update(7, "after the restart")))
            .unwrap()
    );
}

#[test]
fn the_memory_of_taken_updates_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let total = SEEN_UPDATES + 250;
    // Batches of 100 in one transaction each, as intake writes them.
    for batch in 0..total.div_ceil(100) {
        store
            .write(|tx| {
                for i in batch * 100..((batch + 1) * 100).min(total) {
                    tx.accept_update(i as i64, &update(i as i64, "x"))?;
                    tx.remove_inbox(i + 1);
                }
                Ok(())
            })
            .unwrap();
    }
    let read = store.read();
    let remembered = read
        .tree()
        .unwrap()
        .scan_prefix(keys::Space::SeenUpdates.key(&[]))
        .count() as u64;
    let order = read
        .tree()
        .unwrap()
        .scan_prefix(keys::Space::SeenOrder.key(&[]))
        .count() as u64;
    assert_eq!(remembered, order);
    assert!(
        remembered <= SEEN_UPDATES + 1,
        "{remembered} ids remembered, bound {SEEN_UPDATES}"
    );
    // The newest are still recognised, the oldest are forgotten.
    drop(read);
    assert!(
        !store
            .write(|tx| tx.accept_update((total - 1) as i64, &update((total - 1) as i64, "x")))
            .unwrap()
    );
    assert!(
        store
            .write(|tx| tx.accept_update(0, &update(0, "x")))
            .unwrap()
    );
}

#[test]
fn arrivals_start_after_updates_an_older_release_queued_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // What an older release wrote: the inbox keyed by update id, no arrival counter.
    store
        .write(|tx| {
            tx.put(
                keys::Space::Inbox,
                &keys::u64_key(900_000),
                &update(900_000, "old"),
            );
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| tx.accept_update(12, &update(12, "new")).map(|_| ()))
        .unwrap();
    assert_eq!(inbox_texts(&store), ["old", "new"]);
}

#[test]
fn message_keys_decode_to_what_they_encode() {
    for (chat, message) in [
        (-1001234567890i64, 42i32),
        (5, 1),
        (-1, i32::MAX),
        (i64::MIN, -3),
    ] {
        let mut key = keys::i64_key(chat).to_vec();
        key.extend_from_slice(&keys::i32_key(message));
        assert_eq!(keys::read_message_key(&key), (chat, message));
    }
}

fn ticket(local: u64, chat_id: i64, author: i64) -> TicketLink {
    let mut link: TicketLink = serde_json::from_value(serde_json::json!({
        "local": local,
        "helpdesk": "main",
        "chat_id": chat_id,
        "author": {"display_name": "A", "telegram_id": author},
        "view": {
            "subject": format!("t{local}"),
            "description": "",
            "status": "new",
            "state": "new",
            "last_comments": [],
        },
        "known_comments": [],
        "created_at": "2026-11-21T12:00:00Z",
    }))
    .expect("a minimal ticket record");
    link.number = Some(local.to_string());
    link
}

#[test]
fn tickets_are_found_by_chat_and_by_author_including_unflushed_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.put_ticket(&ticket(1, -100, 7));
            tx.put_ticket(&ticket(2, -200, 7));
            tx.put_ticket(&ticket(3, -100, 8));
            let in_chat: Vec<_> = tx.tickets_in_chat(-100)?.iter().map(|l| l.local).collect();
            assert_eq!(in_chat, [1, 3]);
            Ok(())
        })
        .unwrap();
    let read = store.read();
    let by_author: Vec<_> = read
        .tickets_by_author(7)
        .unwrap()
        .iter()
        .map(|l| l.local)
        .collect();
    assert_eq!(by_author, [1, 2]);
    assert!(read.tickets_in_chat(-300).unwrap().is_empty());
}

#[test]
fn a_ticket_that_moved_chat_is_listed_only_under_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.put_ticket(&ticket(1, -100, 7));
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            let mut link = tx.ticket(1)?.unwrap();
            link.chat_id = -1001;
            tx.put_ticket(&link);
            // Before the old chat's entries are dropped, the stale one is skipped.
            assert!(tx.tickets_in_chat(-100)?.is_empty());
            tx.drop_chat_index(-100)
        })
        .unwrap();
    let read = store.read();
    assert!(read.packed_all(BY_CHAT, &i64_key(-100)).unwrap().is_empty());
    assert_eq!(read.tickets_in_chat(-1001).unwrap().len(), 1);
}

#[test]
fn a_store_from_before_the_indexes_gets_them_built_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // What an older build wrote: ticket records, no index entries, no index marker.
    store
        .write(|tx| {
            for local in 1..=3 {
                let link = ticket(local, -100, 7);
                tx.put(Space::Tickets, &u64_key(local), &link);
            }
            tx.delete(Space::Meta, META_TICKET_INDEXES.as_bytes());
            tx.put_meta_u64(META_SCHEMA, 1);
            Ok(())
        })
        .unwrap();
    assert!(store.read().tickets_in_chat(-100).unwrap().is_empty());
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.read().tickets_in_chat(-100).unwrap().len(), 3);
    assert_eq!(store.read().tickets_by_author(7).unwrap().len(), 3);
}

#[tokio::test]
async fn a_full_disk_fails_the_store_and_freeing_it_recovers_without_a_restart() {
    let Some(disk) = teledesk_testkit::disk::SmallDisk::mount(64) else {
        return;
    };
    let store = Store::open(&disk.path.join("store")).unwrap();
    let boot = store.boot();
    store
        .write(|tx| tx.accept_update(1, &update(1, "durable")).map(|_| ()))
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.failure(), None);

    disk.fill();
    let big = "x".repeat(64 * 1024);
    let mut failed = false;
    for i in 2..2000 {
        let wrote = store.write(|tx| tx.accept_update(i, &update(i, &big)).map(|_| ()));
        if wrote.is_err() || store.flush().await.is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "a full disk never failed a write");
    assert!(store.failure().is_some());
    // Still full: opening again fails or fails again at once; either way the failure stays.
    if store.recover().is_ok() {
        let again = store.write(|tx| tx.accept_update(9999, &update(9999, &big)).map(|_| ()));
        let _ = again.is_ok() && store.flush().await.is_ok();
    }

    disk.free();
    let mut recovered = false;
    for _ in 0..100 {
        if store.recover().is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        recovered,
        "the store did not open again: {:?}",
        store.failure()
    );
    assert_eq!(store.failure(), None);
    assert!(store.boot() > boot, "a recovery is a new boot");
    let texts = inbox_texts(&store);
    assert_eq!(texts.first().map(String::as_str), Some("durable"));
    store
        .write(|tx| {
            tx.accept_update(50_000, &update(50_000, "after"))
                .map(|_| ())
        })
        .unwrap();
    store.flush().await.unwrap();
}

#[test]
fn the_counts_follow_every_write_and_match_a_scan() {
    use teledesk_adapter::StatusClass;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outgoing = |chat_id| Outgoing {
        chat_id,
        action: SendAction::Card { ticket: 1 },
        attempts: 0,
        not_before: OffsetDateTime::UNIX_EPOCH,
        sent_parts: Vec::new(),
    };
    let mut seqs = Vec::new();
    store
        .write(|tx| {
            for i in 0..5 {
                tx.accept_update(i, &update(i, "x"))?;
            }
            // The same update again is not counted twice.
            tx.accept_update(0, &update(0, "x"))?;
            for local in 1..=3 {
                tx.put_ticket(&ticket(local, -100, 7));
                seqs.push(tx.push_job(local, &job(local as i32))?);
            }
            tx.push_outgoing(&outgoing(-100))?;
            tx.push_outgoing(&outgoing(-200))?;
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            tx.remove_inbox(1);
            tx.remove_job(1, seqs[0]);
            let mut closed = ticket(2, -100, 7);
            closed.view.status = StatusClass::Closed;
            tx.put_ticket(&closed);
            // Written twice in one transaction: counted once.
            tx.put_ticket(&closed);
            tx.push_dead(&DeadLetter {
                id: 99,
                failed_at: OffsetDateTime::UNIX_EPOCH,
                error: "gone".into(),
                item: crate::model::DeadItem::Update { raw: "{}".into() },
            });
            Ok(())
        })
        .unwrap();
    let counts = store.counts();
    assert_eq!(
        (counts.inbox, counts.jobs, counts.outbox, counts.dead),
        (4, 2, 2, 1)
    );
    assert_eq!(counts.tickets[&StatusClass::New], 2);
    assert_eq!(counts.tickets[&StatusClass::Closed], 1);
    // A failed transaction moves nothing.
    let _ = store.write(|tx| {
        tx.remove_dead(99);
        Err::<(), _>(StoreError::Deferred)
    });
    assert_eq!(store.counts(), counts);
    let scanned = Counts::scan(store.read().tree().unwrap()).unwrap();
    assert_eq!(scanned, counts);
}

#[test]
fn unreadable_queue_records_are_set_aside_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.push_job(1, &job(1))?;
            tx.pending.insert(
                Space::Jobs.key(&job_key(2, 999)),
                Some(b"{\"kind\":".to_vec()),
            );
            tx.pending.insert(
                Space::Outbox.key(&outbox_key(-5, 1000)),
                Some(b"[\"not an item\"]".to_vec()),
            );
            Ok(())
        })
        .unwrap();
    assert!(matches!(
        store.read().job_heads(),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(store.read().outbox_heads().is_err());
    let moved = store.write(|tx| tx.set_aside_unreadable_work()).unwrap();
    assert_eq!(moved, 2);
    let heads = store.read().job_heads().unwrap();
    assert_eq!(heads.len(), 1);
    assert!(store.read().outbox_heads().unwrap().is_empty());
    let dead = store.read().dead_letters().unwrap();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().any(|d| matches!(
        &d.item,
        crate::model::DeadItem::Unreadable { space, raw } if space == "jobs" && raw == "{\"kind\":"
    )));
    assert_eq!(store.counts().dead, 2);
    assert_eq!(store.counts().jobs, 1);
}

fn snapshot(state: &str, count: u64) -> teledesk_adapter::TicketSnapshot {
    teledesk_adapter::TicketSnapshot {
        subject: "s".into(),
        description: None,
        state: state.into(),
        status: teledesk_adapter::StatusClass::InProgress,
        assignee: None,
        resolution: None,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        comments: teledesk_adapter::CommentMark {
            count,
            last_added_at: None,
        },
        due: Default::default(),
        priority: None,
    }
}

#[test]
fn a_newer_snapshot_replaces_an_older_and_a_full_read_stays_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.mark_changed(1, Some(snapshot("a", 0)))?;
            tx.mark_changed(1, Some(snapshot("b", 1)))?;
            tx.mark_changed(2, Some(snapshot("c", 0)))?;
            tx.mark_dirty(2)?;
            tx.mark_changed(2, Some(snapshot("d", 0)))?;
            Ok(())
        })
        .unwrap();
    let dirty = store.read().dirty().unwrap();
    let (one, two) = (&dirty[0].1, &dirty[1].1);
    assert!(!one.full, "only snapshots: no full read");
    assert_eq!(one.snapshot.as_ref().map(|s| s.state.as_str()), Some("b"));
    assert!(two.full, "a full mark stays until a refresh clears it");
    assert_eq!(two.snapshot.as_ref().map(|s| s.state.as_str()), Some("d"));
    // A refresh that read an older mark leaves the newer one.
    let stamp = one.stamp;
    store
        .write(|tx| {
            tx.mark_changed(1, Some(snapshot("e", 1)))?;
            tx.clear_dirty(1, stamp)
        })
        .unwrap();
    assert_eq!(store.read().dirty().unwrap().len(), 2);
}

#[test]
fn a_dirty_mark_stored_as_a_bare_stamp_reads_as_a_full_read() {
    let mark: Dirty = serde_json::from_str("17").expect("an old mark loads");
    assert_eq!(
        mark,
        Dirty {
            stamp: 17,
            full: true,
            snapshot: None
        }
    );
    let job: Job = serde_json::from_value(serde_json::json!({
        "kind": serde_json::to_value(&job(1).kind).unwrap(),
        "attempts": 2,
        "not_before": "2026-11-21T12:00:00Z",
        "boot": 1,
    }))
    .expect("an old job loads");
    assert!(
        job.uncertain,
        "an old failed job must look before writing again"
    );
}

#[tokio::test]
async fn albums_of_an_older_store_are_filed_by_age_when_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let date = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let item = crate::model::AlbumItem {
        message_id: 5,
        file: crate::model::ClientFile {
            file_id: "f".into(),
            file_name: "a.jpg".into(),
            content_type: "image/jpeg".into(),
            size: Some(3),
            source: crate::model::FileSource::Telegram,
        },
        caption: None,
        date,
    };
    // As an older release wrote it: the record alone, and no mark that albums are indexed.
    store
        .write(|tx| {
            tx.put(Space::Albums, &album_key(-7, "g1"), &vec![item.clone()]);
            tx.delete(Space::Meta, META_ALBUM_INDEX.as_bytes());
            tx.put_meta_u64(META_SCHEMA, 1);
            Ok(())
        })
        .unwrap();
    store.flush().await.unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.read().albums().unwrap(),
        [RememberedAlbum {
            chat_id: -7,
            first_seen: date,
            media_group_id: "g1".into()
        }]
    );
}

#[test]
fn the_oldest_waiting_record_of_each_queue_is_known_without_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.oldest().is_empty());
    let before = OffsetDateTime::now_utc();
    let first = store.write(|tx| tx.push_job(1, &job(1))).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = OffsetDateTime::now_utc();
    let second = store.write(|tx| tx.push_job(2, &job(2))).unwrap();
    let oldest = store.oldest()[&Queue::Jobs];
    assert!(oldest >= before && oldest < between, "{oldest}");
    // Rewriting a record (a retry's new attempt count) keeps its place.
    store
        .write(|tx| {
            let mut again = job(1);
            again.attempts = 1;
            tx.put_job(1, first, &again);
            Ok(())
        })
        .unwrap();
    assert_eq!(store.oldest()[&Queue::Jobs], oldest);
    // A failed write moves nothing.
    let _ = store.write(|tx| {
        tx.remove_job(1, first);
        Err::<(), _>(StoreError::Deferred)
    });
    assert_eq!(store.oldest()[&Queue::Jobs], oldest);
    store
        .write(|tx| {
            tx.remove_job(1, first);
            Ok(())
        })
        .unwrap();
    assert!(store.oldest()[&Queue::Jobs] >= between);
    store
        .write(|tx| {
            tx.remove_job(2, second);
            Ok(())
        })
        .unwrap();
    assert!(!store.oldest().contains_key(&Queue::Jobs));

    // A dead letter waits since it failed, also when found at open; other records found at open
    // wait from then.
    let failed_at = OffsetDateTime::now_utc() - time::Duration::hours(3);
    store
        .write(|tx| {
            tx.push_dead(&DeadLetter {
                id: 7,
                failed_at,
                error: "gone".into(),
                item: crate::model::DeadItem::Update { raw: "{}".into() },
            });
            tx.push_job(3, &job(3))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(store.buried(), 1);
    drop(store);
    let reopened = OffsetDateTime::now_utc();
    let store = Store::open(dir.path()).unwrap();
    let oldest = store.oldest();
    assert_eq!(
        oldest[&Queue::Dead].unix_timestamp(),
        failed_at.unix_timestamp()
    );
    assert!(oldest[&Queue::Jobs] >= reopened);
    assert_eq!(store.counts().of(Queue::Dead), 1);
    assert_eq!(store.buried(), 0, "made by an earlier process");
}

/// Set for the child process of `the_saved_counts_survive_kills_and_match_a_scan`: the store
/// directory it writes to until it is killed.
const COUNTS_CHILD_DIR: &str = "TELEDESK_TEST_COUNTS_CHILD_DIR";

/// Not a test of its own: the child process of `the_saved_counts_survive_kills_and_match_a_scan`
/// (returns at once otherwise). Opens the store and moves every counted keyspace, flushing now
/// and then and saying so on stdout, until it is killed.
#[test]
fn counts_child_writes_until_killed() {
    use crate::model::{DeadItem, DeadLetter};
    use teledesk_adapter::StatusClass;
    let Some(dir) = std::env::var_os(COUNTS_CHILD_DIR) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Update ids and dead letter ids unique across the children of one test.
    let base = store.boot() * 1_000_000;
    let mut jobs = std::collections::VecDeque::new();
    for i in 0u64.. {
        let n = base + i;
        store
            .write(|tx| {
                tx.accept_update(n as i64, &update(n as i64, "x"))?;
                if i % 3 == 0
                    && let Some((position, _)) = tx.inbox(1)?.into_iter().next()
                {
                    tx.remove_inbox(position);
                }
                let mut link = ticket(1 + n % 40, -100, 7);
                link.view.status = StatusClass::ALL[(n % 7) as usize];
                tx.put_ticket(&link);
                let local = 1 + n % 5;
                jobs.push_back((local, tx.push_job(local, &job(n as i32))?));
                if i % 2 == 1
                    && let Some((local, seq)) = jobs.pop_front()
                {
                    tx.remove_job(local, seq);
                }
                if i % 5 == 0 {
                    tx.push_dead(&DeadLetter {
                        id: n,
                        failed_at: OffsetDateTime::UNIX_EPOCH,
                        error: "gone".into(),
                        item: DeadItem::Update { raw: "{}".into() },
                    });
                }
                if i % 15 == 0 {
                    tx.remove_dead(n - 10);
                }
                Ok(())
            })
            .unwrap();
        if i % 50 == 49 {
            runtime.block_on(store.flush()).unwrap();
            println!("flushed {i}");
        }
    }
}

#[test]
fn the_saved_counts_survive_kills_and_match_a_scan() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::counts_child_writes_until_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(COUNTS_CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Killed after a few flushes, at a different point of the next batch each round.
        let stdout = child.stdout.take().unwrap();
        let flushes = std::io::BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
            .filter(|line| line.starts_with("flushed "))
            .take(3 + round as usize)
            .count();
        std::thread::sleep(std::time::Duration::from_millis(7 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(flushes, 3 + round as usize, "the child stopped writing");
        let store = Store::open(dir.path()).unwrap();
        let counts = store.counts();
        let scanned = Counts::scan(store.read().tree().unwrap()).unwrap();
        assert_eq!(counts, scanned, "after kill {round}");
        assert!(
            counts.inbox > 0 && counts.jobs > 0 && counts.dead > 0,
            "{counts:?}"
        );
        assert!(counts.tickets.len() > 1, "{counts:?}");
    }
}

#[test]
fn the_saved_counts_are_trusted_only_from_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tickets = |store: &Store| store.counts().tickets.values().sum::<usize>();
    store
        .write(|tx| {
            for i in 0..5 {
                tx.put_ticket(&ticket(i + 1, -100, 7));
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(tickets(&store), 5);
    drop(store);
    // Records changed behind the counts' back (an earlier build that does not keep them): here
    // two ticket records dropped straight from the tree.
    let drop_two = |bump_boot: bool| {
        // As the store opens it: a process forked meanwhile by another test can hold the lock.
        let db = super::open_locked(&sled::Config::new().path(dir.path())).unwrap();
        let tree = db.open_tree("teledesk").unwrap();
        let keys: Vec<_> = tree
            .scan_prefix(Space::Tickets.key(&[]))
            .keys()
            .take(2)
            .map(|k| k.unwrap())
            .collect();
        for key in keys {
            tree.remove(key).unwrap();
        }
        if bump_boot {
            let key = Space::Meta.key(META_BOOT.as_bytes());
            let boot: u64 = serde_json::from_slice(&tree.get(&key).unwrap().unwrap()).unwrap();
            tree.insert(key, serde_json::to_vec(&(boot + 1)).unwrap())
                .unwrap();
        }
        db.flush().unwrap();
    };
    // Without a new boot the saved counts are taken as they are: opening reads no ticket.
    drop_two(false);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(tickets(&store), 5);
    assert_eq!(store.read().tickets().unwrap().len(), 3);
    drop(store);
    // A run that did not save them bumped the boot: they are counted again.
    drop_two(true);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(tickets(&store), 1);
    assert_eq!(
        store.counts(),
        Counts::scan(store.read().tree().unwrap()).unwrap()
    );
    drop(store);
    // ... and saved again: the next open trusts them.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(tickets(&store), 1);
}

/// Many tasks writing and flushing at once on a multi-threaded runtime, as the daemon's loops and
/// jobs do: every flush returns (sled 0.34's concurrent `flush_async` could deadlock the store
/// for good, see `Store::flush`). Watched from another thread: a deadlocked store blocks the
/// runtime's workers, timers included.
#[test]
fn concurrent_writes_and_flushes_all_finish() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
    let (finished, finish) = std::sync::mpsc::channel();
    let writer = store.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for t in 0..32i64 {
                let store = writer.clone();
                tasks.spawn(async move {
                    for i in 0..40i64 {
                        let n = t * 1000 + i;
                        store
                            .write(|tx| tx.accept_update(n, &update(n, "x")).map(|_| ()))
                            .unwrap();
                        store.flush().await.unwrap();
                    }
                });
            }
            while let Some(task) = tasks.join_next().await {
                task.unwrap();
            }
        });
        let _ = finished.send(());
    });
    assert!(
        finish
            .recv_timeout(std::time::Duration::from_secs(120))
            .is_ok(),
        "writes and flushes stopped: the store deadlocked"
    );
    assert_eq!(store.counts().inbox, 32 * 40);
}

/// A store as schema 1 wrote it, built with sled directly: version 1, ticket and album records,
/// their indexes never built (and no flags saying they were).
fn schema_1_store(dir: &std::path::Path) {
    let db = super::open_locked(&sled::Config::new().path(dir)).unwrap();
    let tree = db.open_tree("teledesk").unwrap();
    let put = |space: Space, key: &[u8], value: &[u8]| {
        tree.insert(space.key(key), value).unwrap();
    };
    put(Space::Meta, META_SCHEMA.as_bytes(), b"1");
    put(Space::Meta, META_BOOT.as_bytes(), b"7");
    for local in 1..=3u64 {
        let link = serde_json::to_vec(&ticket(local, -100, 7)).unwrap();
        put(Space::Tickets, &u64_key(local), &link);
    }
    db.flush().unwrap();
}

#[test]
fn a_schema_1_store_is_migrated_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    schema_1_store(dir.path());
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.boot(), 8, "the old store's boots go on");
    let read = store.read();
    assert_eq!(read.meta_u64(META_SCHEMA).unwrap(), Some(SCHEMA_VERSION));
    assert_eq!(read.tickets_in_chat(-100).unwrap().len(), 3);
    assert_eq!(read.tickets_by_author(7).unwrap().len(), 3);
    assert_eq!(read.meta_u64(META_TICKET_INDEXES).unwrap(), None);
    assert_eq!(read.meta_u64(META_ALBUM_INDEX).unwrap(), None);
}

#[test]
fn a_store_of_a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.put_meta_u64(META_SCHEMA, SCHEMA_VERSION + 1);
            Ok(())
        })
        .unwrap();
    drop(store);
    let error = Store::open(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("newer teledesk") && error.contains("teledesk import"),
        "{error}"
    );
    // Refused before anything was written: the next attempt finds the same.
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Schema { found, .. }) if found == SCHEMA_VERSION + 1
    ));
}

#[tokio::test]
async fn a_backup_carries_records_as_stored_and_the_files_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a")).unwrap();
    let name = store
        .files()
        .keep(
            Shelf::Uploads,
            &teledesk_adapter::Content::from_vec(vec![0, 1, 2, b'"', 255]),
        )
        .await
        .unwrap();
    store
        .write(|tx| {
            tx.put_upload(&name)?;
            tx.mark_card_stale(3);
            // An upload of an old store: raw bytes, not JSON.
            tx.pending
                .insert(Space::Uploads.key(&u64_key(9)), Some(b"\n\x00raw".to_vec()));
            // JSON whose strings look like the line's own syntax, and JSON with space around it.
            tx.pending.insert(
                Space::Meta.key(b"tricky"),
                Some(br#"{"s":"a\"},\"value\":1}\n","n":[1.50,-0]}"#.to_vec()),
            );
            tx.pending
                .insert(Space::Meta.key(b"spaced"), Some(b" {\"a\": 1} ".to_vec()));
            tx.put_ticket(&ticket(1, -100, 7));
            // The newest keyspace: the one `Space::ALL` once left out.
            let memory = [("priority".to_owned(), "high".to_owned())].into();
            tx.put_intake_memory(7, -100, &memory);
            Ok(())
        })
        .unwrap();
    let mut first = Vec::new();
    let summary = store.export(&mut first).unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains(r#""space":"intake_memory""#),
        "every keyspace goes into a backup by its name"
    );
    assert_eq!(summary.files, 1);

    let other = Store::open_for_import(&dir.path().join("b")).unwrap();
    let imported = other
        .import(&mut std::io::Cursor::new(&first), false)
        .unwrap();
    assert_eq!((imported.records, imported.files), (summary.records, 1));
    let mut second = Vec::new();
    other.export(&mut second).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
    assert_eq!(
        other.files().open(&name).unwrap().read_all().await.unwrap(),
        vec![0, 1, 2, b'"', 255]
    );
    assert!(matches!(
        other.read().upload(9).unwrap(),
        Some(UploadAt::Inline(bytes)) if bytes == b"\n\x00raw"
    ));
    assert_eq!(other.read().stale_cards().unwrap(), [3]);
    assert_eq!(
        other.read().intake_memory(7, -100).unwrap().get("priority"),
        Some(&"high".to_owned())
    );
    for (key, bytes) in [
        (
            &b"tricky"[..],
            &br#"{"s":"a\"},\"value\":1}\n","n":[1.50,-0]}"#[..],
        ),
        (&b"spaced"[..], &b" {\"a\": 1} "[..]),
    ] {
        assert_eq!(
            other
                .read()
                .raw_get(&Space::Meta.key(key))
                .unwrap()
                .as_deref(),
            Some(bytes),
            "byte for byte"
        );
    }
    // Into a store that holds something: refused, unless told.
    assert!(matches!(
        other.import(&mut std::io::Cursor::new(&first), false),
        Err(BackupError::NotEmpty { .. })
    ));
    other
        .import(&mut std::io::Cursor::new(&first), true)
        .unwrap();
    assert_eq!(other.read().tickets().unwrap().len(), 1);
}

// --- packed indexes (schema 3) ---------------------------------------------------------------

use super::packed::{CHUNK_ENTRIES, COLLIDE};
use proptest::prelude::*;

fn linked(local: u64, chat_id: i64, author: i64, helpdesk: &str, id: &str) -> TicketLink {
    let mut link = ticket(local, chat_id, author);
    link.helpdesk = helpdesk.to_owned();
    link.ticket_id = Some(TicketId(id.to_owned()));
    link
}

fn locals(links: Vec<TicketLink>) -> Vec<u64> {
    links.iter().map(|l| l.local).collect()
}

/// The items in an order set by `seed` (xorshift and Fisher–Yates): random, and the same in
/// every run.
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
    items
}

/// Checks the layout of one group's chunks, as stored with the transaction's writes: each
/// non-empty, within [`CHUNK_ENTRIES`], sorted, its key at most its lowest entry and above the
/// entries of the chunk before. Returns how many chunks there are.
fn check_chunks(tx: &Tx<'_>, index: Packed, group: &[u8; 8]) -> usize {
    let prefix = index.space.key(group);
    let chunks = tx.scan_raw(&prefix).unwrap();
    let mut before: Option<Vec<u8>> = None;
    for (key, chunk) in &chunks {
        assert!(!chunk.is_empty() && chunk.len() % index.width == 0);
        let entries: Vec<&[u8]> = chunk.chunks_exact(index.width).collect();
        assert!(entries.len() <= CHUNK_ENTRIES, "{} entries", entries.len());
        assert!(
            entries
                .windows(2)
                .all(|w| w[0][..index.identity] < w[1][..index.identity])
        );
        let key = &key[prefix.len()..];
        assert!(key <= &entries[0][..index.identity]);
        if let Some(before) = &before {
            assert!(&before[..index.identity] < key);
        }
        before = Some(entries[entries.len() - 1].to_vec());
    }
    chunks.len()
}

#[test]
fn every_index_answers_inside_the_transaction_that_writes_it_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = |s: &str| TicketId(s.to_owned());
    store
        .write(|tx| {
            tx.put_ticket(&linked(1, -100, 7, "main", "A-1"));
            tx.put_ticket(&linked(2, -100, 8, "main", "A-2"));
            tx.index_message(-100, 55, 2);
            assert_eq!(locals(tx.tickets_in_chat(-100)?), [1, 2]);
            assert_eq!(locals(tx.tickets_by_author(8)?), [2]);
            assert_eq!(tx.ticket_by_helpdesk("main", &id("A-2"))?, Some(2));
            assert_eq!(tx.ticket_by_helpdesk("other", &id("A-2"))?, None);
            assert_eq!(tx.ticket_of_message(-100, 55)?, Some(2));
            assert_eq!(tx.ticket_of_message(-100, 56)?, None);
            assert_eq!(tx.ticket_of_message(-101, 55)?, None);
            Ok(())
        })
        .unwrap();
    // Stored chunks and this transaction's writes to them, read together.
    store
        .write(|tx| {
            tx.put_ticket(&linked(3, -100, 7, "main", "A-3"));
            let mut moved = tx.ticket(1)?.unwrap();
            moved.chat_id = -200;
            tx.put_ticket(&moved);
            tx.index_message(-100, 55, 3);
            tx.index_message(-100, 54, 1);
            assert_eq!(locals(tx.tickets_in_chat(-100)?), [2, 3]);
            assert_eq!(locals(tx.tickets_in_chat(-200)?), [1]);
            assert_eq!(locals(tx.tickets_by_author(7)?), [1, 3]);
            assert_eq!(tx.ticket_by_helpdesk("main", &id("A-3"))?, Some(3));
            assert_eq!(tx.ticket_of_message(-100, 55)?, Some(3), "filed again");
            assert_eq!(tx.ticket_of_message(-100, 54)?, Some(1));
            Ok(())
        })
        .unwrap();
    let read = store.read();
    assert_eq!(locals(read.tickets_in_chat(-100).unwrap()), [2, 3]);
    assert_eq!(locals(read.tickets_in_chat(-200).unwrap()), [1]);
    assert_eq!(
        read.ticket_by_helpdesk("main", &id("A-1")).unwrap(),
        Some(1)
    );
    assert_eq!(read.ticket_of_message(-100, 55).unwrap(), Some(3));
    // A write that is dropped leaves the indexes as they were.
    let dropped: Result<()> = store.write(|tx| {
        tx.put_ticket(&linked(4, -100, 7, "main", "A-4"));
        tx.index_message(-100, 60, 4);
        Err(StoreError::Deferred)
    });
    assert!(dropped.is_err());
    let read = store.read();
    assert_eq!(locals(read.tickets_in_chat(-100).unwrap()), [2, 3]);
    assert_eq!(read.ticket_by_helpdesk("main", &id("A-4")).unwrap(), None);
    assert_eq!(read.ticket_of_message(-100, 60).unwrap(), None);
}

#[test]
fn a_chat_of_many_tickets_reads_back_whole_whatever_order_they_came_in() {
    let n = 1000u64;
    for (order, arrivals) in [
        ("ascending", (1..=n).collect::<Vec<_>>()),
        ("descending", (1..=n).rev().collect()),
        ("random", shuffled((1..=n).collect(), 7)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for batch in arrivals.chunks(100) {
            store
                .write(|tx| {
                    for &local in batch {
                        tx.put_ticket(&ticket(local, -100, 7));
                    }
                    Ok(())
                })
                .unwrap();
        }
        // Every seventh moves to another chat: out of this chat's chunks.
        store
            .write(|tx| {
                for local in (7..=n).step_by(7) {
                    let mut link = tx.ticket(local)?.unwrap();
                    link.chat_id = -200;
                    tx.put_ticket(&link);
                }
                Ok(())
            })
            .unwrap();
        let read = store.read();
        let staying: Vec<u64> = (1..=n).filter(|l| l % 7 != 0).collect();
        assert_eq!(
            locals(read.tickets_in_chat(-100).unwrap()),
            staying,
            "{order}"
        );
        let moved: Vec<u64> = (7..=n).step_by(7).collect();
        assert_eq!(
            locals(read.tickets_in_chat(-200).unwrap()),
            moved,
            "{order}"
        );
        assert_eq!(
            read.tickets_by_author(7).unwrap().len(),
            n as usize,
            "{order}"
        );
        let chunks = check_chunks(&read, BY_CHAT, &i64_key(-100));
        check_chunks(&read, BY_CHAT, &i64_key(-200));
        let full = (n as usize).div_ceil(CHUNK_ENTRIES);
        let by_author = check_chunks(&read, BY_AUTHOR, &i64_key(7));
        if order == "random" {
            // Split chunks are at least half full.
            assert!(by_author <= 2 * full, "{order}: {by_author} chunks");
        } else {
            // In order, chunks are filled before the next is begun.
            assert_eq!(by_author, full, "{order}");
        }
        assert!(chunks <= by_author, "{order}: {chunks} chunks");
    }
}

#[test]
fn tickets_of_many_owners_are_each_listed_under_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let chat = |local: u64| -1_000_000_000_000 - (local % 50) as i64;
    let author = |local: u64| 500 + (local % 37) as i64;
    for batch in shuffled((1..=2000u64).collect(), 3).chunks(500) {
        store
            .write(|tx| {
                for &local in batch {
                    tx.put_ticket(&ticket(local, chat(local), author(local)));
                    tx.index_message(chat(local), local as i32, local);
                }
                Ok(())
            })
            .unwrap();
    }
    let read = store.read();
    for owner in 0..50u64 {
        let expected: Vec<u64> = (1..=2000).filter(|l| l % 50 == owner).collect();
        assert_eq!(locals(read.tickets_in_chat(chat(owner)).unwrap()), expected);
        check_chunks(&read, BY_CHAT, &i64_key(chat(owner)));
        check_chunks(&read, MESSAGES, &i64_key(chat(owner)));
    }
    for owner in 0..37u64 {
        let expected: Vec<u64> = (1..=2000).filter(|l| l % 37 == owner).collect();
        assert_eq!(
            locals(read.tickets_by_author(author(owner)).unwrap()),
            expected
        );
    }
    for local in 1..=2000u64 {
        assert_eq!(
            read.ticket_of_message(chat(local), local as i32).unwrap(),
            Some(local)
        );
        // The same message id in another chat is another message.
        assert_eq!(
            read.ticket_of_message(chat(local + 1), local as i32)
                .unwrap(),
            None
        );
    }
    assert!(read.tickets_in_chat(-5).unwrap().is_empty());
    assert!(read.tickets_by_author(499).unwrap().is_empty());
}

#[test]
fn a_chat_whose_tickets_all_left_keeps_no_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            for local in 1..=300 {
                tx.put_ticket(&ticket(local, -100, 7));
            }
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            for local in shuffled((1..=300u64).collect(), 11) {
                let mut link = tx.ticket(local)?.unwrap();
                link.chat_id = -1001;
                link.author.telegram_id = 8;
                tx.put_ticket(&link);
            }
            Ok(())
        })
        .unwrap();
    let read = store.read();
    assert!(
        read.scan_raw(&Space::PackedByChat.key(&i64_key(-100)))
            .unwrap()
            .is_empty()
    );
    assert!(
        read.scan_raw(&Space::PackedByAuthor.key(&i64_key(7)))
            .unwrap()
            .is_empty()
    );
    assert_eq!(read.tickets_in_chat(-1001).unwrap().len(), 300);
    assert_eq!(read.tickets_by_author(8).unwrap().len(), 300);
}

/// Makes every ticket id hash alike while it lives (the hook is the test thread's own).
struct Colliding;

impl Colliding {
    fn start() -> Self {
        COLLIDE.with(|c| c.set(true));
        Colliding
    }
}

impl Drop for Colliding {
    fn drop(&mut self) {
        COLLIDE.with(|c| c.set(false));
    }
}

#[test]
fn tickets_whose_ids_hash_alike_are_each_found_by_their_own_id() {
    let _colliding = Colliding::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Locals 2k and 2k + 1 have the same id in two helpdesks; every id hashes alike; more than
    // a chunk of them, so the equal hashes run over several chunks.
    let helpdesk = |local: u64| {
        if local.is_multiple_of(2) {
            "main"
        } else {
            "other"
        }
    };
    let id = |local: u64| TicketId(format!("T-{}", local / 2));
    let n = 3 * CHUNK_ENTRIES as u64;
    for batch in shuffled((1..=n).collect(), 5).chunks(100) {
        store
            .write(|tx| {
                for &local in batch {
                    tx.put_ticket(&linked(local, -100, 7, helpdesk(local), &id(local).0));
                }
                Ok(())
            })
            .unwrap();
    }
    let read = store.read();
    assert!(check_chunks(&read, BY_HELPDESK, &helpdesk_group("main")) > 1);
    for local in 1..=n {
        assert_eq!(
            read.ticket_by_helpdesk(helpdesk(local), &id(local))
                .unwrap(),
            Some(local),
            "{local}"
        );
    }
    assert_eq!(
        read.ticket_by_helpdesk("main", &TicketId("T-999999".into()))
            .unwrap(),
        None,
        "a hash shared by hundreds, an id none has"
    );
    assert_eq!(read.ticket_by_helpdesk("third", &id(2)).unwrap(), None);
}

#[test]
fn a_ticket_is_found_by_its_helpdesk_id_once_it_has_one_and_only_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.put_ticket(&ticket(1, -100, 7));
            Ok(())
        })
        .unwrap();
    assert!(
        store
            .read()
            .packed_all(BY_HELPDESK, &helpdesk_group("main"))
            .unwrap()
            .is_empty()
    );
    store
        .write(|tx| {
            tx.put_ticket(&linked(1, -100, 7, "main", "X-1"));
            Ok(())
        })
        .unwrap();
    let read = store.read();
    assert_eq!(
        read.ticket_by_helpdesk("main", &TicketId("X-1".into()))
            .unwrap(),
        Some(1)
    );
    drop(read);
    store
        .write(|tx| {
            tx.put_ticket(&linked(1, -100, 7, "main", "X-2"));
            Ok(())
        })
        .unwrap();
    let read = store.read();
    assert_eq!(
        read.ticket_by_helpdesk("main", &TicketId("X-1".into()))
            .unwrap(),
        None
    );
    assert_eq!(
        read.ticket_by_helpdesk("main", &TicketId("X-2".into()))
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        read.packed_all(BY_HELPDESK, &helpdesk_group("main"))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_ticket_written_again_rewrites_its_indexes_only_when_what_they_file_it_by_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            for local in 1..=200 {
                tx.put_ticket(&linked(local, -100, 7, "main", &format!("A-{local}")));
            }
            Ok(())
        })
        .unwrap();
    let written = |change: fn(&mut TicketLink)| -> std::collections::BTreeSet<&'static str> {
        store
            .write(|tx| {
                let mut link = tx.ticket(150)?.unwrap();
                change(&mut link);
                tx.put_ticket(&link);
                Ok(tx
                    .pending
                    .keys()
                    .map(|key| Space::from_byte(key[0]).unwrap().name())
                    .collect())
            })
            .unwrap()
    };
    assert_eq!(
        written(|l| l.view.subject = "new".into()),
        ["tickets"].into()
    );
    assert_eq!(written(|_| ()), ["tickets"].into());
    assert_eq!(
        written(|l| l.chat_id = -200),
        ["tickets", "packed_tickets_by_chat"].into()
    );
    assert_eq!(
        written(|l| l.author.telegram_id = 8),
        ["tickets", "packed_tickets_by_author"].into()
    );
    assert_eq!(
        written(|l| l.ticket_id = Some(TicketId("B-150".into()))),
        ["tickets", "packed_by_helpdesk"].into()
    );
    let read = store.read();
    assert_eq!(locals(read.tickets_in_chat(-200).unwrap()), [150]);
    assert_eq!(locals(read.tickets_by_author(8).unwrap()), [150]);
    assert_eq!(read.tickets_in_chat(-100).unwrap().len(), 199);
}

#[test]
fn a_ticket_over_an_unreadable_record_is_filed_and_a_failed_read_fails_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.pending
                .insert(Space::Tickets.key(&u64_key(5)), Some(b"{garbage".to_vec()));
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            tx.put_ticket(&linked(5, -100, 7, "main", "A-5"));
            Ok(())
        })
        .unwrap();
    assert_eq!(locals(store.read().tickets_in_chat(-100).unwrap()), [5]);

    // A read that fails in a write that cannot return it is kept for the write's end.
    let mut unavailable = store.read();
    unavailable.tree = None;
    unavailable.put_ticket(&ticket(6, -100, 7));
    unavailable.index_message(-100, 1, 6);
    assert!(matches!(
        unavailable.deferred,
        Some(StoreError::Unavailable)
    ));
    let failed = store.write(|tx| {
        tx.put_ticket(&ticket(7, -100, 7));
        tx.defer(StoreError::Unavailable);
        Ok(())
    });
    assert!(matches!(failed, Err(StoreError::Unavailable)));
    assert_eq!(store.read().ticket(7).unwrap(), None, "nothing applied");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The chunk layer against a sorted map, through inserts, refilings and removals in two
    /// groups, over transactions of any length, read inside each and after all.
    #[test]
    fn the_chunks_hold_what_a_sorted_map_holds(
        ops in proptest::collection::vec((0u8..8, 0i64..2, -300i32..300, 1u64..6), 1..700)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut model: BTreeMap<(i64, i32), u64> = BTreeMap::new();
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            store.write(|tx| {
                for (op, group, message, local) in ops.by_ref() {
                    let group_key = i64_key(group);
                    match op {
                        // End of the transaction.
                        0 => break,
                        1 | 2 => {
                            tx.packed_remove(MESSAGES, &group_key, &i32_key(message))?;
                            model.remove(&(group, message));
                        }
                        _ => {
                            let mut entry = i32_key(message).to_vec();
                            entry.extend_from_slice(&u64_key(local));
                            tx.packed_insert(MESSAGES, &group_key, &entry)?;
                            model.insert((group, message), local);
                        }
                    }
                    let found = tx.packed_find(MESSAGES, &group_key, &i32_key(message))?;
                    let expected = model.get(&(group, message)).copied();
                    assert_eq!(found.first().map(|e| keys::read_u64(&e[4..])), expected);
                }
                Ok(())
            }).unwrap();
        }
        let read = store.read();
        for group in 0..2i64 {
            check_chunks(&read, MESSAGES, &i64_key(group));
            let held: Vec<(i32, u64)> = read
                .packed_all(MESSAGES, &i64_key(group))
                .unwrap()
                .iter()
                .map(|e| {
                    let (_, message) = keys::read_message_key(&[&i64_key(0)[..], &e[..4]].concat());
                    (message, keys::read_u64(&e[4..]))
                })
                .collect();
            let expected: Vec<(i32, u64)> = model
                .range((group, i32::MIN)..=(group, i32::MAX))
                .map(|((_, m), l)| (*m, *l))
                .collect();
            prop_assert_eq!(held, expected);
        }
    }
}

// --- schema 2 → 3 -----------------------------------------------------------------------------

/// The chat, author and card message of ticket `local` in [`schema_2_store`].
fn schema_2_chat(local: u64) -> i64 {
    -100 - (local % 3) as i64
}

fn schema_2_author(local: u64) -> i64 {
    7 + (local % 5) as i64
}

/// A store as schema 2 wrote it, built with sled directly: 200 tickets with their index keys
/// by helpdesk id, chat and author, two message keys each, and a stale chat entry (schema 2 left
/// one under the old chat of a ticket that moved).
fn schema_2_store(dir: &std::path::Path) {
    let db = super::open_locked(&sled::Config::new().path(dir)).unwrap();
    let tree = db.open_tree(TREE).unwrap();
    let put = |space: Space, key: &[u8], value: &[u8]| {
        tree.insert(space.key(key), value).unwrap();
    };
    let under = |owner: i64, local: u64| [&i64_key(owner)[..], &u64_key(local)].concat();
    put(Space::Meta, META_SCHEMA.as_bytes(), b"2");
    put(Space::Meta, META_BOOT.as_bytes(), b"3");
    for local in 1..=200u64 {
        let (chat, author) = (schema_2_chat(local), schema_2_author(local));
        let id = format!("K-{local}");
        let link = linked(local, chat, author, "main", &id);
        put(
            Space::Tickets,
            &u64_key(local),
            &serde_json::to_vec(&link).unwrap(),
        );
        let local_json = local.to_string();
        put(
            Space::ByHelpdesk,
            format!("main\0{id}").as_bytes(),
            local_json.as_bytes(),
        );
        put(Space::TicketsByChat, &under(chat, local), b"null");
        put(Space::TicketsByAuthor, &under(author, local), b"null");
        for message in [local as i32 * 10, local as i32 * 10 + 1] {
            put(
                Space::Messages,
                &message_key(chat, message),
                local_json.as_bytes(),
            );
        }
    }
    put(Space::TicketsByChat, &under(-999, 1), b"null");
    db.flush().unwrap();
}

fn assert_schema_2_store_migrated(store: &Store) {
    let read = store.read();
    assert_eq!(read.meta_u64(META_SCHEMA).unwrap(), Some(3));
    for local in 1..=200u64 {
        let id = TicketId(format!("K-{local}"));
        assert_eq!(read.ticket_by_helpdesk("main", &id).unwrap(), Some(local));
        for message in [local as i32 * 10, local as i32 * 10 + 1] {
            assert_eq!(
                read.ticket_of_message(schema_2_chat(local), message)
                    .unwrap(),
                Some(local)
            );
        }
    }
    for chat in [-100, -101, -102] {
        let expected: Vec<u64> = (1..=200).filter(|l| schema_2_chat(*l) == chat).collect();
        assert_eq!(locals(read.tickets_in_chat(chat).unwrap()), expected);
        check_chunks(&read, BY_CHAT, &i64_key(chat));
        check_chunks(&read, MESSAGES, &i64_key(chat));
    }
    for author in 7..12 {
        let expected: Vec<u64> = (1..=200)
            .filter(|l| schema_2_author(*l) == author)
            .collect();
        assert_eq!(locals(read.tickets_by_author(author).unwrap()), expected);
    }
    assert!(read.packed_all(BY_CHAT, &i64_key(-999)).unwrap().is_empty());
    for space in [
        Space::ByHelpdesk,
        Space::TicketsByChat,
        Space::TicketsByAuthor,
        Space::Messages,
    ] {
        assert!(
            read.scan_raw(&space.key(&[])).unwrap().is_empty(),
            "{} is gone",
            space.name()
        );
    }
    // Packed: a few keys per owner instead of one per ticket and message.
    let keys = |space: Space| read.scan_raw(&space.key(&[])).unwrap().len();
    assert!(keys(Space::PackedByChat) <= 6 && keys(Space::PackedMessages) <= 9);
}

#[test]
fn a_schema_2_store_is_migrated_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    schema_2_store(dir.path());
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.boot(), 4, "the old store's boots go on");
    assert_schema_2_store_migrated(&store);
    drop(store);
    // Opened again: nothing left to migrate, the same answers.
    let store = Store::open(dir.path()).unwrap();
    assert_schema_2_store_migrated(&store);
}

/// Stops the migration (as a crash would) once `batches` batches are applied.
fn stop_migration_after(batches: Option<usize>) {
    super::MIGRATION_BATCHES_LEFT.with(|l| l.set(batches));
}

#[test]
fn a_migration_stopped_part_way_ends_whole_when_the_store_is_opened_again() {
    // 200 tickets, 400 message keys and 601 old index keys, 16 a batch: about 80 batches.
    for stops in [&[0][..], &[5], &[14], &[30], &[60], &[79], &[20, 3, 50]] {
        let dir = tempfile::tempdir().unwrap();
        schema_2_store(dir.path());
        for &stop in stops {
            stop_migration_after(Some(stop));
            let opened = Store::open(dir.path());
            stop_migration_after(None);
            assert!(opened.is_err(), "stopped after {stop} batches");
        }
        let store = Store::open(dir.path()).unwrap();
        assert_schema_2_store_migrated(&store);
    }
    // The stop points above fall in each step: the stop count covers them all.
    stop_migration_after(Some(1000));
    let dir = tempfile::tempdir().unwrap();
    schema_2_store(dir.path());
    let store = Store::open(dir.path()).unwrap();
    let left = super::MIGRATION_BATCHES_LEFT.with(|l| l.get()).unwrap();
    stop_migration_after(None);
    let batches = 1000 - left;
    assert!((70..90).contains(&batches), "{batches} batches");
    assert_schema_2_store_migrated(&store);
}

#[test]
fn a_migrated_store_exports_and_imports_to_the_same_backup() {
    let dir = tempfile::tempdir().unwrap();
    schema_2_store(&dir.path().join("a"));
    let store = Store::open_for_export(&dir.path().join("a")).unwrap();
    let mut first = Vec::new();
    let summary = store.export(&mut first).unwrap();
    assert_eq!(summary.schema, 3);
    let other = Store::open_for_import(&dir.path().join("b")).unwrap();
    other
        .import(&mut std::io::Cursor::new(&first), false)
        .unwrap();
    assert_schema_2_store_migrated(&other);
    let mut second = Vec::new();
    other.export(&mut second).unwrap();
    assert!(
        first == second,
        "export → import → export gives the same bytes"
    );
}

#[test]
fn a_schema_2_backup_is_migrated_when_imported() {
    let dir = tempfile::tempdir().unwrap();
    schema_2_store(&dir.path().join("old"));
    // The backup a schema-2 teledesk wrote of it: its records as they are.
    let mut records = Vec::new();
    let mut count = 0;
    {
        let db = super::open_locked(&sled::Config::new().path(dir.path().join("old"))).unwrap();
        for entry in db.open_tree(TREE).unwrap().iter() {
            let (key, value) = entry.unwrap();
            backup::write_record(&mut records, &key, &value).unwrap();
            count += 1;
        }
    }
    let mut backup =
        format!("{{\"teledesk_export\":1,\"schema\":2,\"records\":{count},\"files\":0}}\n")
            .into_bytes();
    backup.extend_from_slice(&records);
    backup
        .extend_from_slice(format!("{{\"end\":{{\"records\":{count},\"files\":0}}}}\n").as_bytes());
    let store = Store::open_for_import(&dir.path().join("new")).unwrap();
    let summary = store
        .import(&mut std::io::Cursor::new(&backup), false)
        .unwrap();
    assert_eq!((summary.schema, summary.records), (2, count));
    assert_schema_2_store_migrated(&store);
    drop(store);
    // The import is finished: the daemon opens it.
    let store = Store::open(&dir.path().join("new")).unwrap();
    assert_schema_2_store_migrated(&store);
}
