import Contracts
import Foundation
import ServiceKit
import Synchronization

/// Users' plans, asked of billing-webhooks and kept briefly. When billing cannot be reached the answer is a 503,
/// never a guessed tier.
final class AccountDirectory: Sendable {
    let client: InternalClient
    let billingURL: String
    let ttl: Duration
    private let cache = Mutex<[String: (account: AccountSummary, expires: ContinuousClock.Instant)]>([:])

    init(client: InternalClient, billingURL: String, ttl: Duration) {
        self.client = client
        self.billingURL = billingURL
        self.ttl = ttl
    }

    func account(for userID: String, requestID: String) async throws -> AccountSummary {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[userID] }), cached.expires > now { return cached.account }
        let path = userID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? userID
        let reply: InternalClient.Reply
        do {
            reply = try await client.send(.init(.GET, "\(billingURL)/internal/accounts/\(path)", timeout: .seconds(2)), requestID: requestID)
        } catch {
            throw APIError(.serviceUnavailable, "billing_unavailable", "your plan cannot be read right now; try again shortly")
        }
        guard reply.status == .ok else {
            throw APIError(.serviceUnavailable, "billing_unavailable", "your plan cannot be read right now (billing answered \(reply.status.code))")
        }
        let account = try reply.decode(AccountSummary.self)
        cache.withLock { $0[userID] = (account, now + ttl) }
        return account
    }
}
