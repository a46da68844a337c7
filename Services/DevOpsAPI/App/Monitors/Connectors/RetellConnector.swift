import Foundation
import NIOCore
import NIOHTTP1
import PlanKit
import ServiceKit

/// Retell AI: the calls started in the window (`POST /v3/list-calls`, newest first, by `pagination_key` while
/// `has_more`; `POST /v2/list-calls` where an account still answers 404 to v3) and the concurrency in use.
struct RetellConnector: MonitorConnector {
    let apiKey: String
    let maxPages: Int
    /// The largest page v3 allows.
    static let pageSize = 1_000

    init(_ target: IntegrationTarget) throws(FieldProblems) {
        apiKey = target.credential("api_key")
        maxPages = try target.integer("max_pages", default: 50, in: 1...500)
    }

    var headers: HTTPHeaders { ["Authorization": "Bearer \(apiKey)", "Content-Type": "application/json"] }

    func check(using client: ProviderClient) async throws {
        _ = try await client.json(ProviderRequest(url: client.url("/get-concurrency"), headers: headers), as: RetellConcurrency.self)
    }

    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected {
        let calls = try await self.calls(window, using: client)
        let concurrency = try await client.json(ProviderRequest(url: client.url("/get-concurrency"), headers: headers), as: RetellConcurrency.self)
        return RetellMetrics.collected(calls: calls, concurrency: concurrency, window: window)
    }

    func calls(_ window: CollectionWindow, using client: ProviderClient) async throws -> [RetellCall] {
        let filter: JSONValue = [
            "start_timestamp": [
                "lower_threshold": .number(Decimal(Int64(window.start.timeIntervalSince1970 * 1000))),
                "upper_threshold": .number(Decimal(Int64(window.end.timeIntervalSince1970 * 1000))),
            ]
        ]
        var calls: [RetellCall] = []
        var key: String?
        for _ in 0..<maxPages {
            var body: [String: JSONValue] = ["filter_criteria": filter, "sort_order": "descending", "limit": .number(Decimal(Self.pageSize))]
            if let key { body["pagination_key"] = .string(key) }
            let response = try await client.send(
                ProviderRequest(method: .POST, url: client.url("/v3/list-calls"), headers: headers, body: try Self.encode(body), accepted: [404])
            )
            guard response.status == 200 else { return try await legacyCalls(filter, using: client) }
            let page = try response.decode(RetellCallPage.self)
            calls += page.items
            guard page.hasMore, let next = page.paginationKey else { break }
            key = next
        }
        return calls
    }

    /// v2 answers a bare array; the next page starts after the last call id, and a short page is the last.
    func legacyCalls(_ filter: JSONValue, using client: ProviderClient) async throws -> [RetellCall] {
        var calls: [RetellCall] = []
        for _ in 0..<maxPages {
            var body: [String: JSONValue] = ["filter_criteria": filter, "sort_order": "descending", "limit": .number(Decimal(Self.pageSize))]
            if let last = calls.last { body["pagination_key"] = .string(last.callID) }
            let page = try await client.json(
                ProviderRequest(method: .POST, url: client.url("/v2/list-calls"), headers: headers, body: try Self.encode(body)),
                as: [RetellCall].self
            )
            calls += page
            if page.count < Self.pageSize { break }
        }
        return calls
    }

    static func encode(_ body: [String: JSONValue]) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(body))
    }
}

/// `{items, pagination_key, has_more}`.
struct RetellCallPage: Decodable {
    var items: [RetellCall]
    var paginationKey: String?
    var hasMore: Bool

    enum CodingKeys: String, CodingKey {
        case items
        case paginationKey = "pagination_key"
        case hasMore = "has_more"
    }
}

/// A call as Retell lists it: only the fields the numbers need.
struct RetellCall: Decodable, Equatable, Sendable {
    struct Analysis: Decodable, Equatable, Sendable {
        var callSuccessful: Bool?
        enum CodingKeys: String, CodingKey { case callSuccessful = "call_successful" }
    }

    struct Cost: Decodable, Equatable, Sendable {
        /// Cents, possibly with a fraction.
        var combinedCost: Decimal
        enum CodingKeys: String, CodingKey { case combinedCost = "combined_cost" }
    }

    struct Latency: Decodable, Equatable, Sendable {
        struct Tracking: Decodable, Equatable, Sendable { var values: [Decimal]? }
        var e2e: Tracking?
    }

    var callID: String
    /// `registered`, `not_connected`, `ongoing`, `ended` or `error`.
    var callStatus: String
    var startTimestamp: Int64?
    var callAnalysis: Analysis?
    var callCost: Cost?
    var latency: Latency?

    enum CodingKeys: String, CodingKey {
        case latency
        case callID = "call_id"
        case callStatus = "call_status"
        case startTimestamp = "start_timestamp"
        case callAnalysis = "call_analysis"
        case callCost = "call_cost"
    }
}

/// `GET /get-concurrency`.
struct RetellConcurrency: Decodable, Equatable, Sendable {
    var currentConcurrency: Int
    var concurrencyLimit: Int

    enum CodingKeys: String, CodingKey {
        case currentConcurrency = "current_concurrency"
        case concurrencyLimit = "concurrency_limit"
    }
}

/// Retell's numbers from the calls listed. No I/O.
///
/// - connect rate = ended ÷ (ended + error + not_connected), error rate = error ÷ the same, over calls started in the
///   window (registered and ongoing ones have no outcome yet);
/// - goal success = calls whose analysis says `call_successful` ÷ calls analysed;
/// - latency p50/p95 = nearest-rank percentiles of every `latency.e2e.values` reading of every call, pooled (an
///   average of per-call percentiles would weigh a short call like a long one);
/// - cost = Σ `call_cost.combined_cost`, in cents, rounded once at the end; concurrency in use and its limit.
enum RetellMetrics {
    static func collected(calls: [RetellCall], concurrency: RetellConcurrency, window: CollectionWindow) -> Collected {
        struct Tally {
            var ended = 0, errors = 0, notConnected = 0, analysed = 0, successful = 0
            var cost: Decimal = 0
            var terminal: Int { ended + errors + notConnected }
        }
        var overall = Tally()
        var hourly: [Date: Tally] = [:]
        var latencies: [Decimal] = []
        var seen = Set<String>()
        for call in calls {
            guard let started = call.startTimestamp.map({ Date(timeIntervalSince1970: Double($0) / 1000) }), window.contains(started),
                seen.insert(call.callID).inserted
            else { continue }
            func count(_ tally: inout Tally) {
                switch call.callStatus {
                case "ended": tally.ended += 1
                case "error": tally.errors += 1
                case "not_connected": tally.notConnected += 1
                default: break
                }
                if let successful = call.callAnalysis?.callSuccessful {
                    tally.analysed += 1
                    if successful { tally.successful += 1 }
                }
                tally.cost += call.callCost?.combinedCost ?? 0
            }
            count(&overall)
            count(&hourly[started.hourStart, default: Tally()])
            latencies += call.latency?.e2e?.values ?? []
        }
        var samples: [MetricSample] = []
        for (hour, tally) in hourly {
            for (metric, value) in [
                ("calls_ended", Decimal(tally.ended)), ("calls_error", Decimal(tally.errors)), ("calls_not_connected", Decimal(tally.notConnected)),
                ("calls_analysed", Decimal(tally.analysed)), ("calls_successful", Decimal(tally.successful)), ("cost_cents", tally.cost),
            ] {
                samples.append(MetricSample(metric: metric, bucketStart: hour, value: value, kind: .counter))
            }
        }
        samples.append(
            MetricSample(metric: "concurrency_used", bucketStart: window.end.hourStart, value: Decimal(concurrency.currentConcurrency), kind: .gauge)
        )
        let sorted = latencies.sorted()
        return Collected(
            samples: samples,
            summary: [
                "calls": .number(Decimal(overall.terminal)),
                "connect_rate": .ratio(overall.ended, overall.terminal),
                "error_rate": .ratio(overall.errors, overall.terminal),
                "goal_success_rate": .ratio(overall.successful, overall.analysed),
                "latency_p50_ms": JSONValue(percentile(sorted, 50)),
                "latency_p95_ms": JSONValue(percentile(sorted, 95)),
                "cost_cents": .number(overall.cost.rounded(places: 0)),
                "currency": "usd",
                "concurrency_used": .number(Decimal(concurrency.currentConcurrency)),
                "concurrency_limit": .number(Decimal(concurrency.concurrencyLimit)),
            ]
        )
    }

    /// The nearest-rank percentile of sorted readings: the smallest reading with at least `p`% of them at or below it.
    static func percentile(_ sorted: [Decimal], _ p: Int) -> Decimal? {
        guard !sorted.isEmpty else { return nil }
        let rank = (p * sorted.count + 99) / 100
        return sorted[max(rank, 1) - 1]
    }
}
