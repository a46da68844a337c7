import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// An event taken from the outbox for delivery.
struct ClaimedEvent: Sendable {
    var id: UUID
    var kind: CRMEventKind
    var payload: String
    /// 1 for the first attempt.
    var attempt: Int
}

/// The SQL of the outbox: accepting, claiming, settling and re-queueing events.
enum OutboxQueries {
    /// Writes the event unless its idempotency key was used before; returns the stored event's id and payload hash.
    static func insert(
        id: UUID,
        kind: CRMEventKind,
        payload: String,
        payloadHash: String,
        idempotencyKey: String?,
        isTest: Bool = false,
        postgres: PostgresClient,
        logger: Logger
    ) async throws -> (id: UUID, payloadHash: String, kind: String) {
        // One statement: the insert, or the event its idempotency key already names. A twin sent at the same
        // moment commits while this statement waits, after its snapshot was taken: then a second look finds it.
        for _ in 0..<2 {
            let rows = try await postgres.query(
                """
                WITH inserted AS (
                    INSERT INTO crm.outbox (event_id, kind, payload, idempotency_key, payload_sha256, is_test)
                    VALUES (\(id), \(kind.rawValue), \(payload)::jsonb, \(idempotencyKey), \(payloadHash), \(isTest))
                    ON CONFLICT (idempotency_key) DO NOTHING
                    RETURNING event_id, payload_sha256, kind
                )
                SELECT event_id, payload_sha256, kind FROM inserted
                UNION ALL
                SELECT event_id, payload_sha256, kind FROM crm.outbox
                WHERE idempotency_key = \(idempotencyKey) AND NOT EXISTS (SELECT 1 FROM inserted)
                """,
                logger: logger
            )
            for try await row in rows.decode((UUID, String, String).self) { return row }
        }
        throw OutboxRowMissing()
    }

    /// Takes up to `limit` due events (and any whose worker's lease ran out), leasing them to `worker`.
    static func claim(limit: Int, worker: String, lease: Duration, postgres: PostgresClient, logger: Logger) async throws -> [ClaimedEvent] {
        let rows = try await postgres.query(
            """
            UPDATE crm.outbox SET status = 'delivering', leased_by = \(worker), lease_until = now() + make_interval(secs => \(lease.inSeconds)),
                attempts = attempts + 1, updated_at = now()
            WHERE event_id IN (
                SELECT event_id FROM crm.outbox
                WHERE (status IN ('queued', 'retrying') AND next_attempt_at <= now()) OR (status = 'delivering' AND lease_until < now())
                ORDER BY next_attempt_at
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            RETURNING event_id, kind, payload::text, attempts
            """,
            logger: logger
        )
        var events: [ClaimedEvent] = []
        for try await (id, kind, payload, attempts) in rows.decode((UUID, String, String, Int).self) {
            events.append(ClaimedEvent(id: id, kind: CRMEventKind(rawValue: kind) ?? .customerRegistration, payload: payload, attempt: attempts))
        }
        return events
    }

    struct AttemptRecord: Sendable {
        var attemptedAt: Date
        var httpStatus: Int?
        var latencyMilliseconds: Int
        var error: String?
        var responseExcerpt: String?
    }

    enum Settlement: Sendable {
        case delivered
        case failed
        case retry(after: Duration)
    }

    /// Logs the attempt and moves the event on, if this worker still holds it.
    static func settle(
        _ event: ClaimedEvent,
        as settlement: Settlement,
        attempt record: AttemptRecord,
        worker: String,
        postgres: PostgresClient,
        logger: Logger
    ) async throws {
        // One statement (one round trip, one implicit transaction): the attempt's log row and the event's new state.
        let error = record.error ?? record.httpStatus.map { "HTTP \($0)" }
        let (status, delay): (String, Duration?) =
            switch settlement {
            case .delivered: ("delivered", nil)
            case .failed: ("failed", nil)
            case .retry(let after): ("retrying", after)
            }
        try await postgres.query(
            """
            WITH attempt AS (
                INSERT INTO crm.delivery_attempts (event_id, attempt, attempted_at, http_status, latency_ms, error, response_excerpt)
                VALUES (\(event.id), \(event.attempt), \(record.attemptedAt), \(record.httpStatus), \(record.latencyMilliseconds), \(record.error),
                    \(record.responseExcerpt))
            )
            UPDATE crm.outbox SET status = \(status), leased_by = NULL, lease_until = NULL, last_status = \(record.httpStatus),
                last_error = CASE WHEN \(status) = 'delivered' THEN NULL ELSE \(error) END,
                delivered_at = CASE WHEN \(status) = 'delivered' THEN now() END,
                failed_at = CASE WHEN \(status) = 'failed' THEN now() END,
                next_attempt_at = now() + make_interval(secs => \(delay?.inSeconds ?? 0)),
                updated_at = now()
            WHERE event_id = \(event.id) AND leased_by = \(worker)
            """,
            logger: logger
        )
    }

    /// Puts failed events (all, or those named) back in the queue with fresh attempts; returns how many.
    static func requeueFailed(ids: [UUID]?, postgres: PostgresClient, logger: Logger) async throws -> Int {
        let rows: PostgresRowSequence
        if let ids {
            rows = try await postgres.query(
                """
                UPDATE crm.outbox SET status = 'queued', attempts = 0, next_attempt_at = now(), failed_at = NULL, updated_at = now()
                WHERE status = 'failed' AND event_id = ANY(\(ids)) RETURNING event_id
                """,
                logger: logger
            )
        } else {
            rows = try await postgres.query(
                """
                UPDATE crm.outbox SET status = 'queued', attempts = 0, next_attempt_at = now(), failed_at = NULL, updated_at = now()
                WHERE status = 'failed' RETURNING event_id
                """,
                logger: logger
            )
        }
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}

struct OutboxRowMissing: Error {}
