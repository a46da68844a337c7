import Foundation
import NIOHTTP1
import PlanKit
import ServiceKit

/// Vonage: the Voice API's call records over the window (`GET /v1/calls`, a JWT signed with the application's private
/// key, paged by `record_index`), the account balance (`rest.nexmo.com`, key and secret), and, with `config.sms`,
/// outbound SMS from the Reports API (`GET /v2/reports/records`, following `_links.next` while `TRUNCATED`).
struct VonageConnector: MonitorConnector {
    let applicationID: String
    let signer: ProviderJWT
    let basic: String
    let apiKey: String
    let restURL: String
    let sms: Bool
    /// The account's currency, in which Vonage prices calls and states the balance.
    let currency: String

    static let pageSize = 100

    init(_ target: IntegrationTarget) throws(FieldProblems) {
        var problems: [FieldProblem] = []
        let signer = ProviderJWT(pem: target.credential("private_key"))
        if signer == nil { problems.append(FieldProblem("credentials.private_key", "must be the application's RSA private key in PEM")) }
        let restURL = target.config["rest_url"]?.string ?? "https://rest.nexmo.com"
        if IntegrationDraft.normalizedBaseURL(restURL) == nil { problems.append(FieldProblem("config.rest_url", "must be an http or https URL")) }
        var sms = false
        switch target.config["sms"] {
        case nil: break
        case .bool(let value)?: sms = value
        default: problems.append(FieldProblem("config.sms", "must be true or false"))
        }
        let currency = (target.config["currency"]?.string ?? "eur").lowercased()
        if currency.range(of: "^[a-z]{3}$", options: .regularExpression) == nil {
            problems.append(FieldProblem("config.currency", "must be an ISO 4217 code"))
        }
        guard problems.isEmpty, let signer else { throw FieldProblems(problems) }
        applicationID = target.credential("application_id")
        self.signer = signer
        apiKey = target.credential("api_key")
        basic = Data("\(target.credential("api_key")):\(target.credential("api_secret"))".utf8).base64EncodedString()
        self.restURL = IntegrationDraft.normalizedBaseURL(restURL) ?? restURL
        self.sms = sms
        self.currency = currency
    }

    struct Claims: SignedClaims {
        var application_id: String
        var iat: Int
        var exp: Int
        var jti: String
    }

    func bearer() async throws -> HTTPHeaders {
        let now = Int(Date().timeIntervalSince1970)
        let token = try await signer.sign(Claims(application_id: applicationID, iat: now, exp: now + 900, jti: UUID().uuidString))
        return ["Authorization": "Bearer \(token)"]
    }

    var basicHeaders: HTTPHeaders { ["Authorization": "Basic \(basic)"] }

    func check(using client: ProviderClient) async throws {
        _ = try await client.json(ProviderRequest(url: client.url("/v1/calls?page_size=1"), headers: try await bearer()), as: VonageCallPage.self)
    }

    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected {
        let headers = try await bearer()
        let range = "date_start=\(Self.iso(window.start))&date_end=\(Self.iso(window.end))"
        var calls: [VonageCall] = []
        var index = 0
        while index < 100_000 {
            let page = try await client.json(
                ProviderRequest(
                    url: client.url("/v1/calls?\(range)&page_size=\(Self.pageSize)&record_index=\(index)&order=desc"),
                    headers: headers
                ),
                as: VonageCallPage.self
            )
            let batch = page.embedded?.calls ?? []
            calls += batch
            index += batch.count
            if batch.isEmpty || index >= page.count { break }
        }
        let balance = try await client.json(ProviderRequest(url: restURL + "/account/get-balance", headers: basicHeaders), as: VonageBalance.self)
        var messages: [VonageRecord]?
        if sms {
            var records: [VonageRecord] = []
            var next: String? = client.url("/v2/reports/records?account_id=\(apiKey)&product=SMS&direction=outbound&\(range)")
            var pages = 0
            while let url = next, pages < 200 {
                let report = try await client.json(ProviderRequest(url: url, headers: basicHeaders), as: VonageReport.self)
                records += report.records ?? []
                pages += 1
                // A truncated answer names where the rest starts; its host is followed under our base URL.
                next = report.requestStatus == "TRUNCATED" ? client.follow(report.links?.next?.href) : nil
            }
            messages = records
        }
        return VonageMetrics.collected(calls: calls, messages: messages, balance: balance, currency: currency, window: window)
    }

    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle()).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}

/// `{count, page_size, record_index, _embedded: {calls: […]}}`.
struct VonageCallPage: Decodable {
    struct Embedded: Decodable { var calls: [VonageCall]? }
    var count: Int
    var embedded: Embedded?

    enum CodingKeys: String, CodingKey {
        case count
        case embedded = "_embedded"
    }
}

struct VonageCall: Decodable, Equatable, Sendable {
    var uuid: String
    /// `started`, `ringing`, `answered`, `machine`, `completed`, `busy`, `cancelled`, `failed`, `rejected`, `timeout`,
    /// `unanswered`.
    var status: String
    var startTime: Date?
    /// Seconds, as a string.
    var duration: String?
    /// The call's price in the account's currency, as a decimal string.
    var price: String?

    enum CodingKeys: String, CodingKey {
        case uuid, status, duration, price
        case startTime = "start_time"
    }
}

/// `GET /account/get-balance`: `{value, autoReload}`.
struct VonageBalance: Decodable, Equatable, Sendable { var value: Decimal }

/// The Reports API's synchronous answer.
struct VonageReport: Decodable {
    struct Links: Decodable {
        struct Link: Decodable { var href: String }
        var next: Link?
    }

    var requestStatus: String?
    var records: [VonageRecord]?
    var links: Links?

    enum CodingKeys: String, CodingKey {
        case records
        case requestStatus = "request_status"
        case links = "_links"
    }
}

struct VonageRecord: Decodable, Equatable, Sendable { var status: String? }

/// Vonage's numbers. No I/O.
///
/// - call success = completed ÷ calls that ended (completed, busy, cancelled, failed, rejected, timeout, unanswered,
///   machine), over calls started in the window; mean duration of the completed ones, in seconds;
/// - cost = Σ `price` as a decimal in the account's currency (`cost`), and in its minor unit rounded once (`cost_cents`);
/// - SMS delivery = delivered ÷ (delivered + failed + expired + rejected); the rest are still pending;
/// - the balance, in the minor unit.
enum VonageMetrics {
    static let ended: Set<String> = ["completed", "busy", "cancelled", "failed", "rejected", "timeout", "unanswered", "machine"]
    static let undelivered: Set<String> = ["failed", "expired", "rejected"]

    static func collected(calls: [VonageCall], messages: [VonageRecord]?, balance: VonageBalance, currency: String, window: CollectionWindow)
        -> Collected
    {
        var seen = Set<String>()
        var finished = 0, completed = 0
        var seconds: Decimal = 0
        var cost: Decimal = 0
        var hourly: [Date: (finished: Int, completed: Int)] = [:]
        for call in calls {
            guard let started = call.startTime, window.contains(started), seen.insert(call.uuid).inserted else { continue }
            cost += call.price.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) } ?? 0
            guard ended.contains(call.status) else { continue }
            finished += 1
            hourly[started.hourStart, default: (0, 0)].finished += 1
            if call.status == "completed" {
                completed += 1
                hourly[started.hourStart]!.completed += 1
                seconds += call.duration.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) } ?? 0
            }
        }
        var samples: [MetricSample] = []
        for (hour, counts) in hourly {
            samples.append(MetricSample(metric: "calls_ended", bucketStart: hour, value: Decimal(counts.finished), kind: .counter))
            samples.append(MetricSample(metric: "calls_completed", bucketStart: hour, value: Decimal(counts.completed), kind: .counter))
        }
        let balanceCents = (balance.value * 100).rounded(places: 0)
        samples.append(MetricSample(metric: "balance_cents", bucketStart: window.end.hourStart, value: balanceCents, kind: .gauge))
        var summary: [String: JSONValue] = [
            "calls": .number(Decimal(finished)),
            "call_success_rate": .ratio(completed, finished),
            "mean_duration_seconds": completed == 0 ? .null : .number((seconds / Decimal(completed)).rounded(places: 1)),
            "cost": .string("\(cost)"),
            "cost_cents": .number((cost * 100).rounded(places: 0)),
            "balance_cents": .number(balanceCents),
            "currency": .string(currency),
        ]
        if let messages {
            let delivered = messages.filter { $0.status?.lowercased() == "delivered" }.count
            let failed = messages.filter { undelivered.contains($0.status?.lowercased() ?? "") }.count
            summary["sms_sent"] = .number(Decimal(messages.count))
            summary["sms_delivery_rate"] = .ratio(delivered, delivered + failed)
            summary["sms_pending"] = .number(Decimal(messages.count - delivered - failed))
        }
        return Collected(samples: samples, summary: summary)
    }
}
