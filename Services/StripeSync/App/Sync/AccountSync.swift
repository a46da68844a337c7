import Foundation
import Logging
import PostgresNIO
import RevenueMath
import ServiceKit
import StripeKit

/// Where a full copy has got to, stored on its job with every page: a worker that takes the job over resumes there.
struct SyncCursor: Codable, Sendable, Equatable {
    enum Phase: String, Codable, CaseIterable, Sendable {
        case customers, subscriptions, invoices, charges
    }
    var phase: Phase = .customers
    /// The last object of `phase` already in the cache.
    var after: String?
    /// The newest event when the copy began: the next incremental sync reads the events after it.
    var watermark: EventMark
}

/// The newest event an account had when it was last read (no id when it had none).
struct EventMark: Codable, Sendable, Equatable {
    var id: String?
    var created: Int
}

/// An event as `/v1/events` lists it or a Connect webhook sends it, its object kept as JSON until its type is known.
struct ListedEvent: Codable, Sendable, Identifiable {
    struct Payload: Codable, Sendable {
        var object: JSONValue
        /// What an `*.updated` event's change replaced.
        var previousAttributes: JSONValue?

        enum CodingKeys: String, CodingKey {
            case object
            case previousAttributes = "previous_attributes"
        }
    }
    var id: String
    var type: String
    var created: Int
    /// The connected account it happened on, as a Connect webhook's event names it.
    var account: String?
    var data: Payload
}

extension ListedEvent {
    /// The status a subscription event shows its subscription in, and the one it left when the event changed it.
    var statusChange: (subscription: String, change: StatusChange)? {
        guard data.object["object"]?.string == "subscription", let id = data.object["id"]?.string,
            let status = data.object["status"]?.string
        else { return nil }
        let at = Date(timeIntervalSince1970: TimeInterval(created))
        return (id, StatusChange(at: at, status: status, previous: data.previousAttributes?["status"]?.string))
    }
}

/// The job lost its lease to another worker, which now carries it on.
struct LeaseLost: Error {}

/// Copies one connected account into the cache: in full a page at a time (the whole account is never held in
/// memory, and the cursor saved with each page lets another worker resume), or, after a full copy, only the objects
/// its events say changed.
struct AccountSync {
    let postgres: PostgresClient
    let stripe: StripeClient
    let account: String
    let job: UUID
    let worker: String
    let logger: Logger
    var reader: AccountReader { AccountReader(stripe: stripe, account: account) }

    /// Stripe keeps 30 days of events; an older mark cannot be caught up from them.
    static let eventRetention = 29 * 86_400

    struct Counts: Sendable, Equatable {
        var customers = 0
        var subscriptions = 0
        var invoices = 0
        var charges = 0
        var incremental = false
    }

    func run(kind: String, cursor: SyncCursor?, lastEvent: EventMark?, now: Int) async throws -> (Counts, EventMark) {
        let result: (Counts, EventMark)
        if kind == "incremental", cursor == nil, let lastEvent, lastEvent.created > now - Self.eventRetention,
            let caughtUp = try await incremental(since: lastEvent)
        {
            result = caughtUp
        } else {
            result = try await full(from: cursor, now: now)
            try await recordStatusChanges(since: now - Self.eventRetention)
        }
        try await fetchMissingPrices()
        return result
    }

    // MARK: - Prices

    /// Reads whole every price the cache refers to but does not hold whole: those invoice lines name by id only (an
    /// old plan nobody is on any more keeps its real amount) and tiered ones, which Stripe sends without their tiers
    /// unless asked. A price once read is kept: Stripe never changes a price's amounts.
    func fetchMissingPrices() async throws {
        var missing: [String] = []
        for try await id in try await postgres.query(
            """
            SELECT id FROM (
                SELECT coalesce(l->'price'->>'id', l->'pricing'->'price_details'->>'price') AS id,
                    (l->'price' IS NULL OR l->'price'->>'billing_scheme' = 'tiered') AS incomplete
                FROM sync.invoices_cache i, jsonb_array_elements(i.lines) l WHERE i.account_id = \(account)
                UNION ALL
                SELECT it->'price'->>'id', coalesce(it->'price'->>'billing_scheme' = 'tiered', false)
                FROM sync.subscriptions_cache s, jsonb_array_elements(s.items) it WHERE s.account_id = \(account)
            ) referenced
            WHERE id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sync.prices_cache p WHERE p.account_id = \(account) AND p.id = referenced.id)
            -- Wherever one reference carries the price whole, it is known.
            GROUP BY id HAVING bool_and(incomplete)
            """,
            logger: logger
        ).decode(String.self) { missing.append(id) }
        for id in missing.sorted() {
            let price: Price
            do {
                price = try await stripe.get("/v1/prices/\(id)", query: [("expand", ["tiers"])], account: account)
            } catch let error as StripeError where error.status == 404 {
                logger.warning("a price the account's invoices name does not exist", metadata: ["price": .string(id)])
                continue
            }
            let json = String(decoding: try JSONEncoder().encode(price), as: UTF8.self)
            try await postgres.query(
                """
                INSERT INTO sync.prices_cache (account_id, id, price) VALUES (\(account), \(id), \(json)::jsonb)
                ON CONFLICT (account_id, id) DO UPDATE SET price = EXCLUDED.price, fetched_at = now()
                """,
                logger: logger
            )
        }
    }

    // MARK: - Status changes

    /// Records the subscription statuses the account's events show since `since` (Stripe keeps 30 days of them): the
    /// moment an unpaid or paused subscription stopped counting, or a past-due one fell behind, is in them exactly.
    func recordStatusChanges(since: Int) async throws {
        let pages = stripe.list(
            "/v1/events",
            query: [("type", "customer.subscription.*"), ("created", ["gte": .string(String(since))])],
            account: account,
            of: ListedEvent.self
        )
        for try await page in pages {
            let changes = page.compactMap { event in event.statusChange.map { ($0.subscription, event.id, $0.change) } }
            try await postgres.withConnection { try await CacheQueries.insert(changes, account: account, on: $0, logger: logger) }
        }
    }

    // MARK: - Full copy

    func full(from saved: SyncCursor?, now: Int) async throws -> (Counts, EventMark) {
        var cursor: SyncCursor
        if let saved {
            cursor = saved
        } else {
            // The mark is taken before anything is copied, so no change made during the copy is missed later.
            cursor = SyncCursor(watermark: try await newestEvent() ?? EventMark(id: nil, created: now))
            try await postgres.withConnection { try await save(cursor, on: $0) }
        }
        var counts = Counts()
        for phase in SyncCursor.Phase.allCases.drop(while: { $0 != cursor.phase }) {
            let after = phase == cursor.phase ? cursor.after : nil
            switch phase {
            case .customers:
                let pages = stripe.list(
                    "/v1/customers",
                    query: [("expand", ["data.discount.coupon.applies_to"])],
                    account: account,
                    startingAfter: after,
                    of: Customer.self
                )
                counts.customers = try await copy(pages, phase, &cursor, upsert: CacheQueries.upsert)
            case .subscriptions:
                let pages = stripe.list(
                    "/v1/subscriptions",
                    query: [("status", "all"), ("expand", ["data.discounts", "data.discounts.coupon.applies_to", "data.items.data.discounts"])],
                    account: account,
                    startingAfter: after,
                    of: Subscription.self
                )
                counts.subscriptions = try await copy(pages, phase, &cursor, completing: reader.withEveryItem, upsert: CacheQueries.upsert)
            case .invoices:
                let pages = stripe.list("/v1/invoices", account: account, startingAfter: after, of: Invoice.self)
                counts.invoices = try await copy(pages, phase, &cursor, completing: reader.withEveryLine, upsert: CacheQueries.upsert)
            case .charges:
                let pages = stripe.list("/v1/charges", query: [("expand", ["data.refunds"])], account: account, startingAfter: after, of: Charge.self)
                counts.charges = try await copy(pages, phase, &cursor, upsert: CacheQueries.upsert)
            }
        }
        return (counts, cursor.watermark)
    }

    /// Each page goes into the cache together with the cursor that says it is there.
    func copy<Item: Sendable>(
        _ pages: StripePages<Item>,
        _ phase: SyncCursor.Phase,
        _ cursor: inout SyncCursor,
        completing complete: ([Item]) async throws -> [Item] = { $0 },
        upsert: ([Item], String, PostgresConnection, Logger) async throws -> Void
    ) async throws -> Int {
        var copied = 0
        for try await page in pages {
            let items = try await complete(page)
            cursor.phase = phase
            cursor.after = page.last?.id
            let progress = cursor
            try await postgres.withTransaction(logger: logger) { connection in
                try await upsert(items, account, connection, logger)
                try await save(progress, on: connection)
            }
            copied += page.count
        }
        return copied
    }

    func save(_ cursor: SyncCursor, on connection: PostgresConnection) async throws {
        let json = String(decoding: try JSONEncoder().encode(cursor), as: UTF8.self)
        let rows = try await connection.query(
            "UPDATE sync.sync_jobs SET cursor = \(json)::jsonb WHERE id = \(job) AND leased_by = \(worker) RETURNING id",
            logger: logger
        )
        for try await _ in rows { return }
        throw LeaseLost()
    }

    func newestEvent() async throws -> EventMark? {
        let page: StripeList<ListedEvent> = try await stripe.get("/v1/events", query: [("limit", "1")], account: account)
        return page.data.first.map { EventMark(id: $0.id, created: $0.created) }
    }

    // MARK: - Incremental

    /// The objects changed since `mark`, from the account's events (newest first; each object's newest event
    /// wins). Nil when the events no longer reach back to the mark: only a full copy is then complete.
    func incremental(since mark: EventMark) async throws -> (Counts, EventMark)? {
        var newest: EventMark?
        var changed: [String: ListedEvent] = [:]
        var statusChanges: [(subscription: String, event: String, change: StatusChange)] = []
        var reachedMark = mark.id == nil
        events: for try await page in stripe.list("/v1/events", account: account, of: ListedEvent.self) {
            for event in page {
                if newest == nil { newest = EventMark(id: event.id, created: event.created) }
                if event.id == mark.id || event.created < mark.created {
                    reachedMark = true
                    break events
                }
                if let (subscription, change) = event.statusChange { statusChanges.append((subscription, event.id, change)) }
                guard let id = event.data.object["id"]?.string, changed[id] == nil else { continue }
                changed[id] = event
            }
        }
        guard reachedMark else { return nil }

        var customers: [Customer] = []
        var invoices: [Invoice] = []
        var subscriptionIDs: Set<String> = []
        var chargeIDs: Set<String> = []
        for (id, event) in changed {
            switch event.data.object["object"]?.string {
            case "customer":
                var customer = try Self.decode(Customer.self, event.data.object)
                if event.type == "customer.deleted" { customer.deleted = true }
                customers.append(customer)
            case "subscription": subscriptionIDs.insert(id)
            case "invoice": invoices.append(try Self.decode(Invoice.self, event.data.object))
            case "charge": chargeIDs.insert(id)
            // A dispute or refund changes its charge, which is read again whole.
            case "dispute", "refund": if let charge = event.data.object["charge"]?.string { chargeIDs.insert(charge) }
            default: continue
            }
        }
        // Subscriptions and charges are read again: events carry discounts and refunds as ids only.
        var subscriptions: [Subscription] = []
        for id in subscriptionIDs.sorted() { subscriptions.append(try await reader.subscription(id)) }
        invoices = try await reader.withEveryLine(invoices)
        var charges: [Charge] = []
        for id in chargeIDs.sorted() { charges.append(try await reader.charge(id)) }
        try await postgres.withTransaction(logger: logger) { connection in
            try await CacheQueries.upsert(customers, account: account, on: connection, logger: logger)
            try await CacheQueries.upsert(subscriptions, account: account, on: connection, logger: logger)
            try await CacheQueries.upsert(invoices, account: account, on: connection, logger: logger)
            try await CacheQueries.upsert(charges, account: account, on: connection, logger: logger)
            try await CacheQueries.insert(statusChanges, account: account, on: connection, logger: logger)
        }
        let counts = Counts(
            customers: customers.count,
            subscriptions: subscriptions.count,
            invoices: invoices.count,
            charges: charges.count,
            incremental: true
        )
        return (counts, newest ?? mark)
    }

    static func decode<Model: Decodable>(_ type: Model.Type, _ object: JSONValue) throws -> Model {
        try JSONDecoder().decode(Model.self, from: JSONEncoder().encode(object))
    }
}
