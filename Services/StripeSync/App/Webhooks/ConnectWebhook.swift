import Foundation
import Hummingbird
import Logging
import PostgresNIO
import RevenueMath
import ServiceKit
import StripeKit

/// `POST /api/webhooks/stripe-connect`: the events of connected accounts (the gateway checks Stripe's signature). Each
/// event is applied once, in one transaction with the object it names, read again whole from Stripe; the account's
/// metrics are then refreshed from the day the change reaches back to, by `MetricsRefresher`, which coalesces bursts.
struct ConnectWebhook {
    let postgres: PostgresClient
    let stripe: StripeClient

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/webhooks/stripe-connect") { request, context in
            guard try context.requireIdentity().role == .stripe else {
                throw APIError.forbidden("stripe_required", "only Stripe's signed events reach this endpoint")
            }
            let body = try await request.body.collect(upTo: 1024 * 1024)
            let event: ListedEvent
            do {
                event = try JSONDecoder().decode(ListedEvent.self, from: Data(buffer: body))
            } catch {
                throw APIError.badRequest("invalid_event", "the body is not a Stripe event")
            }
            var logger = context.logger
            logger[metadataKey: "stripe_event"] = .string(event.id)
            let outcome = try await handle(event, logger: logger)
            logger.info("connect event handled", metadata: ["type": .string(event.type), "outcome": .string(outcome)])
            return WebhookReceipt(eventID: event.id, outcome: outcome)
        }
    }

    func handle(_ event: ListedEvent, logger: Logger) async throws -> String {
        // Stripe sends a platform's own events to Connect endpoints only when asked; an account we do not hold (never
        // connected, or disconnected) has nothing to update, and a 200 stops Stripe retrying.
        guard let account = event.account else { return "ignored:no_account" }
        guard let connection = try await WebhookQueries.activeConnection(account: account, postgres: postgres, logger: logger) else {
            return "ignored:unknown_account"
        }
        if try await WebhookQueries.seen(event.id, postgres: postgres, logger: logger) { return "duplicate" }
        let target = ConnectTarget(type: event.type, object: event.data.object)
        let change: CacheChange
        switch target {
        case .ignored(let reason):
            return try await record(event, account: account, outcome: "ignored:\(reason)", logger: logger)
        case .deauthorized:
            // As the API's disconnect does: tokens forgotten, cached data and metrics deleted.
            try await ConnectQueries.deactivate(connection, account: account, postgres: postgres, logger: logger)
            return try await record(event, account: account, outcome: "disconnected", logger: logger)
        default:
            if let newest = try await WebhookQueries.newestEvent(of: target.objectID, account: account, postgres: postgres, logger: logger),
                newest > event.created
            {
                // What it changed is already in the cache: the newer event's read came after it.
                return try await record(event, account: account, outcome: "stale", logger: logger)
            }
            do {
                change = try await read(target, event: event, account: account, logger: logger)
            } catch let error as StripeError where error.status == 404 {
                return try await record(event, account: account, outcome: "ignored:object_gone", logger: logger)
            } catch is StripeError, is StripeConnectionError {
                throw APIError(.serviceUnavailable, "stripe_unavailable", "Stripe could not be asked about this event; it will be retried")
            } catch is DecodingError {
                let kind = event.data.object["object"]?.string ?? "object"
                throw APIError.badRequest("invalid_event", "the object the event names does not read as a Stripe \(kind)")
            }
        }
        return try await postgres.withTransaction(logger: logger) { db in
            guard try await WebhookQueries.recordEvent(event, account: account, outcome: "applied", on: db, logger: logger) else {
                return "duplicate"
            }
            try await change.apply(account: account, on: db, logger: logger)
            if let id = target.objectID {
                try await WebhookQueries.recordVersion(of: id, eventCreated: event.created, account: account, on: db, logger: logger)
            }
            try await WebhookQueries.markDirty(connection, from: change.touchedFrom, on: db, logger: logger)
            return "applied"
        }
    }

    func record(_ event: ListedEvent, account: String, outcome: String, logger: Logger) async throws -> String {
        try await postgres.withConnection { db in
            try await WebhookQueries.recordEvent(event, account: account, outcome: outcome, on: db, logger: logger) ? outcome : "duplicate"
        }
    }

    /// The object read again whole, and the earliest moment its change reaches back to.
    func read(_ target: ConnectTarget, event: ListedEvent, account: String, logger: Logger) async throws -> CacheChange {
        let reader = AccountReader(stripe: stripe, account: account)
        var change = CacheChange(touchedFrom: event.created)
        switch target {
        case .customer(let id, let deleted):
            // A deleted customer is a stub in Stripe: the event's copy, marked deleted, is what the cache keeps.
            if !deleted, let customer = try await reader.customer(id) {
                change.customers = [customer]
            } else {
                var customer = try AccountSync.decode(Customer.self, event.data.object)
                customer.deleted = true
                change.customers = [customer]
            }
        case .subscription(let id):
            let subscription = try await reader.subscription(id)
            change.subscriptions = [subscription]
            let known = try await WebhookQueries.hasSubscription(id, account: account, postgres: postgres, logger: logger)
            change.touchedFrom = ConnectTarget.touchedFrom(eventCreated: event.created, newSubscription: known ? nil : subscription)
            // The status the event shows, and the one it left, date an unpaid or paused subscription's churn.
            if let (subscription, status) = event.statusChange {
                change.statusChanges = [(subscription, event.id, status)]
            }
        case .invoice(let id):
            let invoice = try await reader.invoice(id)
            change.invoices = [invoice]
            change.touchedFrom = ConnectTarget.touchedFrom(eventCreated: event.created, invoice: invoice)
        case .charge(let id):
            let charge = try await reader.charge(id)
            change.charges = [charge]
            change.touchedFrom = ConnectTarget.touchedFrom(eventCreated: event.created, charge: charge)
        case .deauthorized, .ignored:
            break
        }
        return change
    }
}

/// Objects read for one event, written to the cache together.
struct CacheChange {
    var customers: [Customer] = []
    var subscriptions: [Subscription] = []
    var invoices: [Invoice] = []
    var charges: [Charge] = []
    var statusChanges: [(subscription: String, event: String, change: StatusChange)] = []
    /// Unix seconds: the earliest moment the change can alter a day's metrics.
    var touchedFrom: Int

    func apply(account: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await CacheQueries.upsert(customers, account: account, on: connection, logger: logger)
        try await CacheQueries.upsert(subscriptions, account: account, on: connection, logger: logger)
        try await CacheQueries.upsert(invoices, account: account, on: connection, logger: logger)
        try await CacheQueries.upsert(charges, account: account, on: connection, logger: logger)
        try await CacheQueries.insert(statusChanges, account: account, on: connection, logger: logger)
    }
}
