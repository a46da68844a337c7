import Contracts
import Foundation
import ServiceKit

/// A connection's snapshots, asked of stripe-sync. Another user's connection is answered exactly like a missing one.
struct MetricsSource: Sendable {
    let client: InternalClient
    let syncURL: String
    static let days = 90

    func snapshots(connectionID: UUID, owner: String, requestID: String) async throws -> ConnectionSnapshots {
        let reply: InternalClient.Reply
        do {
            reply = try await client.send(
                .init(.GET, "\(syncURL)/internal/connections/\(connectionID)/snapshots?days=\(Self.days)", timeout: .seconds(5)),
                requestID: requestID
            )
        } catch {
            throw APIError(.serviceUnavailable, "metrics_unavailable", "the connection's metrics cannot be read right now; try again shortly")
        }
        switch reply.status.code {
        case 200:
            let snapshots = try reply.decode(ConnectionSnapshots.self)
            guard snapshots.userId == owner else { throw APIError.notFound("no such connection") }
            return snapshots
        case 404:
            throw APIError.notFound("no such connection")
        default:
            throw APIError(
                .serviceUnavailable,
                "metrics_unavailable",
                "the connection's metrics cannot be read right now (stripe-sync answered \(reply.status.code))"
            )
        }
    }
}
