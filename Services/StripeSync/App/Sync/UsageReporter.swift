import Foundation
import Logging
import NIOCore
import PlanKit
import PostgresNIO
import ServiceKit

/// After each sync, tells insights-usage how many charges the account has made this UTC month, as
/// `transaction_volume`. Only the growth since the last report is sent, under a key naming the new total, so a
/// repeated report is dropped there and nothing is counted twice. A failure is logged: the next sync reports again.
struct UsageReporter: Sendable {
    let postgres: PostgresClient
    let client: InternalClient
    let usageURL: String

    struct Event: Encodable {
        var userId: String
        var eventType = "transaction_volume"
        var stripeConnectionId: String
        var amount: Int64
        var idempotencyKey: String
    }

    func report(connectionID: UUID, account: String, now: Date = Date(), logger: Logger) async {
        do {
            let period = UsagePeriod(containing: now)
            let month = ISO8601DateFormatter().string(from: period.start).prefix(7)
            var owner = ""
            var total: Int64 = 0
            var reported: Int64 = 0
            for try await row in try await postgres.query(
                """
                SELECT c.user_id,
                    (SELECT count(*) FROM sync.charges_cache WHERE account_id = \(account)
                        AND created >= \(Int64(period.start.timeIntervalSince1970)) AND created < \(Int64(period.end.timeIntervalSince1970))),
                    coalesce((SELECT reported FROM sync.usage_reports WHERE connection_id = c.id AND month = \(String(month))), 0)
                FROM sync.stripe_connections c WHERE c.id = \(connectionID)
                """,
                logger: logger
            ).decode((String, Int64, Int64).self) { (owner, total, reported) = row }
            guard total > reported else { return }
            let event = Event(
                userId: owner,
                stripeConnectionId: connectionID.uuidString.lowercased(),
                amount: total - reported,
                idempotencyKey: "\(connectionID.uuidString.lowercased()):\(month):\(total)"
            )
            let reply = try await client.send(
                .init(.POST, usageURL + "/internal/usage-events", body: ByteBuffer(bytes: try JSONEncoder().encode(event)), idempotent: true),
                requestID: nil,
                logger: logger
            )
            guard reply.status.code < 300 else {
                logger.warning("insights-usage refused the transaction volume", metadata: ["status": "\(reply.status.code)"])
                return
            }
            try await postgres.query(
                """
                INSERT INTO sync.usage_reports (connection_id, month, reported) VALUES (\(connectionID), \(String(month)), \(total))
                ON CONFLICT (connection_id, month) DO UPDATE SET reported = GREATEST(sync.usage_reports.reported, EXCLUDED.reported)
                """,
                logger: logger
            )
        } catch {
            logger.warning("transaction volume not reported", metadata: ["error": .string(String(describing: error))])
        }
    }
}
