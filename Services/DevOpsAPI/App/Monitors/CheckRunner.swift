import AsyncHTTPClient
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Runs one check of one integration and records it: the scheduler's workers and `POST …/check` both come here.
/// The integration is leased first (`FOR UPDATE SKIP LOCKED` for the scheduler), so no two replicas ever check it
/// at once, and the record is written only while the lease is still ours.
struct CheckRunner: Sendable {
    let postgres: PostgresClient
    let http: HTTPClient
    let queries: IntegrationQueries
    let logger: Logger
    let workerID: String
    /// Longer than a check can take with every retry (5 tries, waits capped at 60 s, 15 s per call).
    let lease: Duration = .seconds(600)

    /// A leased integration, credentials opened.
    struct Claimed: Sendable {
        var id: UUID
        var name: String
        var draft: IntegrationDraft
        var health: HealthRecord
    }

    /// What the check found, before it is recorded.
    struct Result: Sendable {
        var startedAt: Date
        var outcome: CheckOutcome
        var statusCode: Int?
        var latencyMilliseconds: Int
        var calls: Int
        var retries: Int
        var error: String?
        var collected: Collected?
        /// A provider's wait longer than the retries could take: the next check is not before it.
        var retryAfter: Duration?
    }

    static let claimedColumns = """
        id, kind, name, base_url, credentials_key_id, credentials_sealed, config::text, poll_seconds, enabled, health, health_since,
        consecutive_failures, consecutive_successes, EXISTS (SELECT 1 FROM devops.incidents WHERE integration_id = i.id AND resolved_at IS NULL)
        """

    /// The integration due longest, leased to this worker; nil when none is due.
    func claimDue() async throws -> Claimed? {
        try await claim(
            """
            UPDATE devops.integrations i SET leased_by = \(workerID), lease_until = now() + make_interval(secs => \(lease.inSeconds))
            WHERE i.id = (
                SELECT id FROM devops.integrations
                WHERE enabled AND next_check_at <= now() AND (lease_until IS NULL OR lease_until < now())
                ORDER BY next_check_at LIMIT 1 FOR UPDATE SKIP LOCKED
            )
            RETURNING \(unescaped: Self.claimedColumns)
            """
        )
    }

    /// One integration, now, unless another worker is checking it (409).
    func claim(_ id: UUID) async throws -> Claimed {
        if let claimed = try await claim(
            """
            UPDATE devops.integrations i SET leased_by = \(workerID), lease_until = now() + make_interval(secs => \(lease.inSeconds))
            WHERE i.id = \(id) AND (i.lease_until IS NULL OR i.lease_until < now())
            RETURNING \(unescaped: Self.claimedColumns)
            """
        ) {
            return claimed
        }
        _ = try await IntegrationQueries.find(id, postgres: postgres, logger: logger)
        throw APIError(.conflict, "check_in_progress", "this integration is being checked right now; its result will be in the overview")
    }

    private func claim(_ query: PostgresQuery) async throws -> Claimed? {
        typealias Row = (UUID, String, String, String, String, String, String, Int, Bool, String, Date, Int, Int, Bool)
        for try await row in try await postgres.query(query, logger: logger).decode(Row.self) {
            guard let kind = IntegrationKind(rawValue: row.1) else { return nil }
            let draft = IntegrationDraft(
                kind: kind,
                name: row.2,
                baseURL: row.3,
                credentials: try queries.open(row.5, keyID: row.4),
                config: try JSONDecoder().decode([String: JSONValue].self, from: Data(row.6.utf8)),
                pollSeconds: row.7,
                enabled: row.8
            )
            let health = HealthRecord(
                state: HealthState(rawValue: row.9) ?? .unknown,
                consecutiveFailures: row.11,
                consecutiveSuccesses: row.12,
                since: row.10,
                incidentOpen: row.13
            )
            return Claimed(id: row.0, name: row.2, draft: draft, health: health)
        }
        return nil
    }

    /// Checks, and when that passes collects the window; never throws, whatever the provider does.
    func run(_ claimed: Claimed, now: Date = Date()) async -> Result {
        let client = ProviderClient(http: http, baseURL: claimed.draft.baseURL, logger: logger)
        let started = ContinuousClock.now
        var outcome = CheckOutcome.ok
        var problem: String?
        var retryAfter: Duration?
        var collected: Collected?
        do {
            let connector = try claimed.draft.kind.connector(claimed.draft.target)
            try await connector.check(using: client)
            let hours = (try? claimed.draft.windowHours()) ?? IntegrationDraft.defaultWindowHours
            // Whole hours, so every bucket but the current one is complete and a later collection rewrites it whole.
            let window = CollectionWindow(start: now.addingTimeInterval(-Double(hours) * 3600).hourStart, end: now)
            collected = try await connector.collect(window, using: client)
        } catch let failure as ProviderFailure {
            outcome = CheckOutcome(failure)
            problem = failure.description
            if case .rateLimited(let wait) = failure { retryAfter = wait }
        } catch let problems as FieldProblems {
            outcome = .failed
            problem = "the integration's settings are invalid: " + problems.problems.map { "\($0.field) \($0.problem)" }.joined(separator: "; ")
        } catch {
            outcome = .failed
            problem = String(describing: error)
        }
        let elapsed = ContinuousClock.now - started
        return Result(
            startedAt: now,
            outcome: outcome,
            statusCode: client.lastStatus,
            latencyMilliseconds: Int(elapsed.inSeconds * 1000),
            calls: client.calls,
            retries: client.retries,
            error: problem.map { String($0.prefix(1000)) },
            collected: collected,
            retryAfter: retryAfter
        )
    }

    /// Records the run, its samples, the health it leads to, any incident it opens or resolves (as an alert on the
    /// status page and the admins' stream), and gives the lease back with the next check scheduled; one transaction.
    @discardableResult
    func record(_ claimed: Claimed, _ result: Result) async throws -> IntegrationView {
        let transition = HealthRules.apply(result.outcome, to: claimed.health, at: Date())
        let next = max(Double(claimed.draft.pollSeconds), result.retryAfter?.inSeconds ?? 0)
        return try await postgres.withTransaction(logger: logger) { connection in
            var view: IntegrationView?
            for try await row in try await connection.query(
                """
                UPDATE devops.integrations SET health = \(transition.record.state.rawValue), health_since = \(transition.record.since),
                    consecutive_failures = \(transition.record.consecutiveFailures), consecutive_successes = \(transition.record.consecutiveSuccesses),
                    last_checked_at = now(), last_outcome = \(result.outcome.rawValue),
                    summary = CASE WHEN \(result.collected != nil) THEN \(result.collected.map { IntegrationQueries.json($0.summary) })::jsonb ELSE summary END,
                    summary_at = CASE WHEN \(result.collected != nil) THEN now() ELSE summary_at END,
                    next_check_at = now() + make_interval(secs => \(next)), leased_by = NULL, lease_until = NULL
                WHERE id = \(claimed.id) AND leased_by = \(workerID)
                RETURNING \(unescaped: IntegrationQueries.columns)
                """,
                logger: logger
            ).decode(IntegrationQueries.Row.self) { view = IntegrationQueries.view(row) }
            // Deleted meanwhile, or the lease ran out and another worker has it: that worker's record counts.
            guard let view else { throw LeaseLost() }
            try await connection.query(
                """
                INSERT INTO devops.check_runs (integration_id, worker, started_at, outcome, status_code, latency_ms, calls, retries, error)
                VALUES (\(claimed.id), \(workerID), \(result.startedAt), \(result.outcome.rawValue), \(result.statusCode),
                    \(result.latencyMilliseconds), \(result.calls), \(result.retries), \(result.error))
                """,
                logger: logger
            )
            if let samples = result.collected?.samples, !samples.isEmpty {
                try await MonitorSamples.store(samples, for: claimed.id, on: connection, logger: logger)
            }
            if transition.opensIncident {
                try await openIncident(claimed, result, on: connection)
            }
            if transition.resolvesIncident {
                try await connection.query(
                    """
                    WITH resolved AS (
                        UPDATE devops.incidents SET resolved_at = now() WHERE integration_id = \(claimed.id) AND resolved_at IS NULL
                        RETURNING alert_event_id
                    )
                    UPDATE devops.events SET resolved_at = now() WHERE id IN (SELECT alert_event_id FROM resolved)
                    """,
                    logger: logger
                )
            }
            if transition.stateChanged || transition.opensIncident || transition.resolvesIncident {
                let status = SystemStatus(
                    integrationId: claimed.id,
                    kind: claimed.draft.kind.rawValue,
                    name: claimed.name,
                    health: transition.record.state.rawValue,
                    previous: claimed.health.state.rawValue,
                    since: transition.record.since,
                    outcome: result.outcome.rawValue,
                    incidentOpen: transition.record.incidentOpen
                )
                try await StreamEvents.publish("system_status", to: nil, payload: status, on: connection, logger: logger)
            }
            return view
        }
    }

    /// The incident and its alert, which the status page lists with the DevOps module's own.
    private func openIncident(_ claimed: Claimed, _ result: Result, on connection: PostgresConnection) async throws {
        let reason = result.outcome == .authFailed ? "auth_failed" : "failed"
        let severity: AlertSeverity = result.outcome == .authFailed ? .critical : .high
        let message =
            result.outcome == .authFailed
            ? "\(claimed.name) (\(claimed.draft.kind.rawValue)) refused our credentials: \(result.error ?? "")"
            : "\(claimed.name) (\(claimed.draft.kind.rawValue)) failed \(HealthRules.failuresToOpen) checks in a row: \(result.error ?? "")"
        let incidentID = UUID()
        let payload = IntegrationQueries.json([
            "source": "monitor", "integration_id": .string(claimed.id.uuidString), "kind": .string(claimed.draft.kind.rawValue),
            "incident_id": .string(incidentID.uuidString),
        ])
        var alertID: Int64 = 0
        for try await id in try await connection.query(
            """
            INSERT INTO devops.events (event_type, severity, severity_level, message, payload, occurred_at)
            VALUES ('alert', \(severity.name), \(Int16(severity.rawValue)), \(message), \(payload)::jsonb, now())
            RETURNING id
            """,
            logger: logger
        ).decode(Int64.self) { alertID = id }
        try await connection.query(
            """
            INSERT INTO devops.incidents (id, integration_id, reason, message, alert_event_id)
            VALUES (\(incidentID), \(claimed.id), \(reason), \(message), \(alertID))
            """,
            logger: logger
        )
        let alert = StreamAlert(
            id: alertID,
            source: "monitor:\(claimed.draft.kind.rawValue)",
            severity: severity.name,
            level: severity.name,
            message: message,
            occurredAt: Date()
        )
        try await StreamEvents.publish("alert", to: nil, payload: alert, on: connection, logger: logger)
    }

    struct LeaseLost: Error {}
}

/// The admins' stream event when an integration's health changes.
struct SystemStatus: Encodable, Sendable {
    var integrationId: UUID
    var kind: String
    var name: String
    var health: String
    var previous: String
    var since: Date
    var outcome: String
    var incidentOpen: Bool
}
