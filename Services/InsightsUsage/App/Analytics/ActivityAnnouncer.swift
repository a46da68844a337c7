import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// Tells admins' live streams how busy the product is: every `interval`, when events arrived, a `user_activity`
/// event with the events received in that interval and the people active in the last 5 minutes. Whichever replica
/// claims the interval's slot publishes it, so replicas never announce one interval twice.
struct ActivityAnnouncer: Service {
    let postgres: PostgresClient
    let interval: Duration
    let logger: Logger

    struct Activity: Encodable, Sendable {
        var events: Int
        var intervalSeconds: Int
        var activePeople5m: Int
        var at: Date
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await announce()
                } catch {
                    logger.warning("user activity announcement failed", metadata: ["error": .string(String(reflecting: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    func announce() async throws {
        let seconds = interval.inSeconds
        try await postgres.withTransaction(logger: logger) { connection in
            var claimed = false
            for try await _ in try await connection.query(
                """
                UPDATE usage.activity_announcements SET announced_at = now()
                WHERE id = 1 AND announced_at < now() - make_interval(secs => \(seconds * 0.9))
                RETURNING id
                """,
                logger: logger
            ) { claimed = true }
            guard claimed else { return }
            for try await (events, people) in try await connection.query(
                """
                SELECT count(*) FILTER (WHERE received_at > now() - make_interval(secs => \(seconds)))::int,
                    count(DISTINCT person) FILTER (WHERE event <> 'session_end')::int
                FROM usage.analytics_events WHERE occurred_at > now() - interval '5 minutes' AND occurred_at <= now() + interval '1 day'
                """,
                logger: logger
            ).decode((Int, Int).self) where events > 0 {
                let activity = Activity(events: events, intervalSeconds: Int(seconds), activePeople5m: people, at: Date())
                try await StreamEvents.publish("user_activity", to: nil, payload: activity, on: connection, logger: logger)
            }
        }
    }
}
