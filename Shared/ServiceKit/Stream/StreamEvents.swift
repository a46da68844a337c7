import Foundation
import Logging
import PostgresNIO

/// One event of the dashboards' live stream (`GET /api/stream`): its id, from one Postgres sequence, orders every
/// event of every service, and lets a client that reconnects with `Last-Event-ID` get what it missed.
public struct StreamEvent: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    /// The one user it is for; nil for admins only (alerts, system status, user activity).
    public var userID: String?
    /// The event's JSON, as `data:` carries it.
    public var payload: String

    /// Whether someone signed in as `userID` (an admin when `admin`) may see it.
    public func isVisible(to userID: String, admin: Bool) -> Bool {
        self.userID == userID || (self.userID == nil && admin)
    }

    /// As Server-Sent Events frame it.
    public var frame: String { "id: \(id)\nevent: \(kind)\ndata: \(payload)\n\n" }
}

/// The shared `stream` schema: any service publishes into it in the transaction of the change it reports (so an event
/// exists exactly when its change does), and whichever service serves `/api/stream` reads it. Postgres `NOTIFY` tells
/// every replica at once, so any replica serves any client; no other infrastructure.
public enum StreamEvents {
    public static let channel = "stream_events"
    /// How long events are kept for clients that reconnect.
    public static let retention: Duration = .seconds(24 * 3_600)

    public static let migrations = MigrationRunner(
        schema: "stream",
        migrations: [
            Migration(
                1,
                "the live stream's events",
                [
                    """
                    CREATE TABLE stream.events (
                        id bigserial PRIMARY KEY, kind text NOT NULL, user_id text, payload jsonb NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now()
                    )
                    """,
                    "CREATE INDEX events_created ON stream.events (created_at)",
                ]
            )
        ]
    )

    /// Publishes an event for one user (`userID`) or for admins (nil), on the caller's connection: inside its
    /// transaction the event appears, and is announced, only if that commits.
    @discardableResult
    public static func publish(
        _ kind: String,
        to userID: String?,
        payload: some Encodable & Sendable,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64? {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
        for try await id in try await connection.query(
            "INSERT INTO stream.events (kind, user_id, payload) VALUES (\(kind), \(userID), \(json)::jsonb) RETURNING id",
            logger: logger
        ).decode(Int64.self) {
            try await connection.query("SELECT pg_notify(\(channel), \(String(id)))", logger: logger)
            return id
        }
        return nil
    }

    /// The events after `id` that a user may see, oldest first, and whether `id` is older than what is kept (the
    /// client must then reload rather than trust the stream to fill the gap).
    static func after(
        _ id: Int64,
        userID: String,
        admin: Bool,
        postgres: PostgresClient,
        logger: Logger
    ) async throws -> (events: [StreamEvent], tooOld: Bool) {
        var oldest: Int64?
        for try await first in try await postgres.query("SELECT min(id) FROM stream.events", logger: logger).decode(Int64?.self) { oldest = first }
        let tooOld = oldest.map { id < $0 - 1 } ?? false
        var events: [StreamEvent] = []
        for try await (eventID, kind, user, payload) in try await postgres.query(
            """
            SELECT id, kind, user_id, payload::text FROM stream.events
            WHERE id > \(id) AND (user_id = \(userID) OR (user_id IS NULL AND \(admin))) ORDER BY id LIMIT 10000
            """,
            logger: logger
        ).decode((Int64, String, String?, String).self) {
            events.append(StreamEvent(id: eventID, kind: kind, userID: user, payload: payload))
        }
        return (events, tooOld)
    }

    static func events(_ ids: [Int64], postgres: PostgresClient, logger: Logger) async throws -> [StreamEvent] {
        var events: [StreamEvent] = []
        for try await (id, kind, user, payload) in try await postgres.query(
            "SELECT id, kind, user_id, payload::text FROM stream.events WHERE id = ANY(\(ids)) ORDER BY id",
            logger: logger
        ).decode((Int64, String, String?, String).self) {
            events.append(StreamEvent(id: id, kind: kind, userID: user, payload: payload))
        }
        return events
    }

    static func prune(postgres: PostgresClient, logger: Logger) async throws {
        try await postgres.query(
            "DELETE FROM stream.events WHERE created_at < now() - make_interval(secs => \(retention.inSeconds))",
            logger: logger
        )
    }
}
