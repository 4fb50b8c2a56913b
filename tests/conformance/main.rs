//! One conformance suite, run against every store: each store gets the same tests.
//!
//! The PostgreSQL instance runs with `--features postgres` and `FACTUM_POSTGRES_URL` set
//! (`scripts/test` starts a throwaway server and sets both); without them it is skipped.
//! Its core cases also run over TLS (`tls.rs`), with `FACTUM_POSTGRES_TLS_URL` and
//! `FACTUM_POSTGRES_TLS_CA`.

mod lifecycle;
mod pii;
#[cfg(feature = "postgres")]
mod postgres;
mod processes;
mod sqlite;
mod suite;
#[cfg(feature = "postgres")]
mod tls;

/// Instantiates every test of the suite for one store. `$make` is an async expression
/// that yields a fresh, empty store.
macro_rules! conformance {
    ($store:ident, $make:expr) => {
        mod $store {
            #[allow(unused_imports)]
            use super::*;

            macro_rules! case {
                ($test:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $test() {
                        let Some(store) = $make else { return };
                        crate::suite::$test(store).await;
                    }
                };
                (pii::$test:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $test() {
                        let Some(store) = $make else { return };
                        crate::pii::$test(store).await;
                    }
                };
                (lifecycle::$test:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $test() {
                        let Some(store) = $make else { return };
                        crate::lifecycle::$test(store).await;
                    }
                };
                (processes::$test:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $test() {
                        let Some(store) = $make else { return };
                        crate::processes::$test(store).await;
                    }
                };
            }

            case!(append_and_read);
            case!(expected_version_conflicts_write_nothing);
            case!(eight_writers_on_one_stream);
            case!(eight_writers_on_many_streams);
            case!(read_all_order_filters_and_limits);
            case!(snapshots_and_checkpoints);
            case!(runner_failures_are_kept);
            case!(a_process_commit_round_trips);
            case!(process_ids_are_never_reused);
            case!(ending_an_instance_removes_its_deadlines);
            case!(cancel_removes_only_that_kind_of_that_instance);
            case!(rejected_commands_are_kept_with_their_error);
            case!(an_invalid_process_commit_writes_nothing);
            case!(large_and_unicode_payloads);
            case!(a_stream_of_100_000_events);
            case!(typed_upcasting_of_stored_events);
            case!(replay_lends_what_read_stream_reads);
            case!(replay_events_decodes_what_is_stored_every_time);
            case!(loading_decodes_upcasts_and_names_bad_events);
            case!(a_command_id_carries_a_command_out_once);
            case!(racing_executions_of_one_command_id_append_once);
            case!(waiting_for_new_events);
            case!(invalid_ids_are_rejected);
            case!(repository_snapshots_and_shape_changes);
            case!(projection_catch_up_equals_rebuild);
            case!(projection_stopped_halfway_resumes_without_reapplying);
            case!(a_failing_handler_stops_the_projection_at_the_event);
            case!(a_live_projection_equals_a_rebuild);
            case!(inline_projections_read_their_writes);
            case!(a_lagging_checkpoint_loses_nothing);
            case!(a_failing_handler_under_a_lagging_checkpoint);
            case!(only_one_process_runs_a_projection_at_a_time);
            case!(a_crash_after_any_command_converges);
            case!(a_shared_inline_projection_sees_each_event_once);
            case!(handed_over_events_are_the_stored_ones);
            case!(processes::a_process_sends_commands_with_their_causes);
            case!(processes::an_ended_instance_receives_nothing);
            case!(processes::a_rejected_command_is_recorded);
            case!(processes::a_panicking_handler_stops_the_runner_at_its_event);
            case!(processes::a_crash_between_commit_and_commands_executes_each_once);
            case!(processes::deadlines_survive_a_restart_and_fire_once);
            case!(processes::two_exclusive_runners_never_fire_a_deadline_twice);
            case!(pii::pii_values_are_sealed_and_open_on_every_path);
            case!(pii::at_rest_the_values_are_sealed);
            case!(pii::a_forgotten_subject_reads_as_forgotten_everywhere);
            case!(pii::upcasting_carries_pii_values);
            case!(pii::a_sealed_value_moved_to_another_event_does_not_open);
            case!(pii::a_pii_value_without_a_subject_is_refused);
            case!(lifecycle::an_archived_stream_is_kept_out_of_the_log_and_closed);
            case!(lifecycle::a_deleted_stream_is_gone_and_closed_for_good);
            case!(lifecycle::projections_receive_the_deletion_notice);
            case!(lifecycle::appends_to_a_closed_stream_fail_alone);
        }
    };
}

use factum::MemoryStore;

conformance!(on_memory, async { Some(MemoryStore::new()) }.await);
conformance!(on_sqlite, Some(crate::sqlite::fresh_store().await));
#[cfg(feature = "postgres")]
conformance!(on_postgres, crate::postgres::fresh_store().await);
