import Foundation
import ServiceKit
import StripeKit

/// Reads single objects of one connected account whole, as the cache keeps them: subscriptions with their discounts
/// and every item, invoices with every line, charges with their refunds. Shared by incremental syncs and Connect
/// webhooks, whose events carry expansions as ids only and nested lists truncated.
struct AccountReader {
    let stripe: StripeClient
    let account: String

    func subscription(_ id: String) async throws -> Subscription {
        let subscription: Subscription = try await stripe.get(
            "/v1/subscriptions/\(id)",
            query: [("expand", ["discounts", "discounts.coupon.applies_to", "items.data.discounts"])],
            account: account
        )
        return try await withEveryItem([subscription])[0]
    }

    func invoice(_ id: String) async throws -> Invoice {
        try await withEveryLine([try await stripe.get("/v1/invoices/\(id)", account: account)])[0]
    }

    func charge(_ id: String) async throws -> Charge {
        try await stripe.get("/v1/charges/\(id)", query: [("expand", ["refunds"])], account: account)
    }

    /// The customer as Stripe has it now; nil once deleted (Stripe then answers a stub with `deleted: true`).
    func customer(_ id: String) async throws -> Customer? {
        let object: JSONValue = try await stripe.get("/v1/customers/\(id)", query: [("expand", ["discount.coupon.applies_to"])], account: account)
        if object["deleted"] == .bool(true) { return nil }
        return try AccountSync.decode(Customer.self, object)
    }

    /// Stripe embeds a subscription's first items only; the rest are paged from `/v1/subscription_items`.
    func withEveryItem(_ subscriptions: [Subscription]) async throws -> [Subscription] {
        try await withEvery(\.items, of: subscriptions) {
            ("/v1/subscription_items", [("subscription", .string($0.id)), ("expand", ["data.discounts"])])
        }
    }

    /// Stripe embeds an invoice's first lines only; the rest are paged from `/v1/invoices/{id}/lines`.
    func withEveryLine(_ invoices: [Invoice]) async throws -> [Invoice] {
        try await withEvery(\.lines, of: invoices) { ("/v1/invoices/\($0.id)/lines", []) }
    }

    /// Replaces each truncated nested list (`has_more`) with all its pages, read from the endpoint `source` names.
    func withEvery<Parent, Child: Codable & Sendable & Identifiable>(
        _ list: WritableKeyPath<Parent, StripeList<Child>>,
        of parents: [Parent],
        from source: (Parent) -> (path: String, query: FormParameters)
    ) async throws -> [Parent] where Child.ID == String {
        var complete = parents
        for index in complete.indices where complete[index][keyPath: list].hasMore {
            let (path, query) = source(complete[index])
            var children: [Child] = []
            for try await page in stripe.list(path, query: query, account: account, of: Child.self) { children += page }
            complete[index][keyPath: list] = StripeList(data: children)
        }
        return complete
    }
}
