import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit
import Synchronization

/// Why a provider call did not give an answer the connector can use.
enum ProviderFailure: Error, Equatable, CustomStringConvertible {
    /// 401 or 403: the credentials are wrong or lack a permission; retrying cannot help.
    case authFailed(status: Int, message: String)
    /// 429 after every retry, or a wait longer than the retries may take: the system is up but asks us to slow down.
    case rateLimited(retryAfter: Duration?)
    /// 5xx, a timeout or a refused connection after every retry.
    case unavailable(status: Int?, message: String)
    /// An answer that is not what the provider documents (other 4xx, undecodable JSON).
    case invalidResponse(status: Int?, message: String)

    var description: String {
        switch self {
        case .authFailed(let status, let message): "authentication failed (\(status)): \(message)"
        case .rateLimited(let retryAfter): "rate limited" + (retryAfter.map { ", retry after \(Int($0.inSeconds)) s" } ?? "")
        case .unavailable(let status, let message): "unavailable" + (status.map { " (\($0))" } ?? "") + ": \(message)"
        case .invalidResponse(let status, let message): "unexpected answer" + (status.map { " (\($0))" } ?? "") + ": \(message)"
        }
    }

    var status: Int? {
        switch self {
        case .authFailed(let status, _): status
        case .rateLimited: 429
        case .unavailable(let status, _), .invalidResponse(let status, _): status
        }
    }
}

/// A call to a provider: the path (with its query) under the integration's base URL, or a whole URL for a provider's
/// second host.
struct ProviderRequest: Sendable {
    var method: HTTPMethod = .GET
    var url: String
    var headers: HTTPHeaders = [:]
    var body: ByteBuffer?
    /// Statuses the connector handles itself (a license-gated endpoint's 403/404) instead of failing the call.
    var accepted: Set<Int> = []
}

struct ProviderResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    func decode<Value: Decodable>(_: Value.Type) throws -> Value {
        do {
            return try ProviderJSON.decoder.decode(Value.self, from: body)
        } catch {
            throw ProviderFailure.invalidResponse(status: status, message: "the body is not the documented JSON (\(error))")
        }
    }
}

enum ProviderJSON {
    /// Providers write ISO-8601 with and without fractions of a second.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO-8601 date: \(text)"))
            }
            return date
        }
        return decoder
    }()

    static func parseDate(_ text: String) -> Date? { Date(iso8601: text) }
}

/// What the rate-limit headers of an answer say about the next call.
struct RateLimitState: Equatable {
    var remaining: Int?
    /// When the window resets.
    var resetAt: Date?

    /// `X-RateLimit-*` and `RateLimit-*` (DigitalOcean, Supabase, the IETF draft). A reset above 10⁹ is a Unix time
    /// (DigitalOcean, GitHub style), anything smaller is seconds from now (the draft's).
    init(headers: HTTPHeaders, now: Date) {
        func value(_ names: String...) -> String? { names.lazy.compactMap { headers.first(name: $0) }.first }
        remaining = value("x-ratelimit-remaining", "ratelimit-remaining").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        resetAt = value("x-ratelimit-reset", "ratelimit-reset").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.map {
            $0 > 1e9 ? Date(timeIntervalSince1970: $0) : now.addingTimeInterval($0)
        }
    }

    /// How long to wait before the next call: until the reset when the window is spent, else not at all.
    func wait(now: Date) -> Duration? {
        guard remaining == 0, let resetAt, resetAt > now else { return nil }
        return .milliseconds(Int64((resetAt.timeIntervalSince(now) * 1000).rounded(.up)))
    }
}

/// What to do after one attempt of a provider call. Pure, so the schedule is tested without waiting.
enum ProviderRetry {
    enum Step: Equatable {
        case done
        case retry(after: Duration)
        case fail(ProviderFailure)
    }

    /// Five tries, full jitter from 1 s doubling to 60 s; a `Retry-After` is honoured as the least wait, and one
    /// longer than the cap ends the call as rate limited, so the scheduler comes back then.
    static let policy = RetryPolicy(maxRetries: 4, baseDelay: .seconds(1), maxDelay: .seconds(60))

    static func step(
        status: Int?,
        retryAfter: Duration?,
        message: String,
        attempt: Int,
        accepted: Set<Int>,
        unitRandom: Double
    ) -> Step {
        if let status, (200..<300).contains(status) || accepted.contains(status) { return .done }
        let retryable = status == nil || status == 429 || (status ?? 0) >= 500
        if let status, !retryable {
            return .fail(
                status == 401 || status == 403
                    ? .authFailed(status: status, message: message) : .invalidResponse(status: status, message: message)
            )
        }
        let giveUp: ProviderFailure = status == 429 ? .rateLimited(retryAfter: retryAfter) : .unavailable(status: status, message: message)
        guard attempt < policy.maxRetries else { return .fail(giveUp) }
        if let retryAfter, retryAfter > policy.maxDelay { return .fail(giveUp) }
        let jitter = policy.delay(forRetry: attempt, unitRandom: unitRandom)
        return .retry(after: max(jitter, retryAfter ?? .zero))
    }

    /// `Retry-After` in seconds or as an HTTP date.
    static func retryAfter(_ value: String?, now: Date) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return .seconds(max(seconds, 0)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(Int64(max(date.timeIntervalSince(now), 0) * 1000))
    }
}

/// Calls one integration's provider for one check or collection: retries with backoff and jitter, waits out a spent
/// rate-limit window, and counts what it did for the check's record. Credentials travel only in headers it is given;
/// it logs paths, never headers or bodies.
final class ProviderClient: Sendable {
    let http: HTTPClient
    let baseURL: String
    let logger: Logger
    let timeout: Duration
    private let state = Mutex(State())

    struct State {
        var calls = 0
        var retries = 0
        var lastStatus: Int?
        var rateLimit: RateLimitState?
    }

    init(http: HTTPClient, baseURL: String, logger: Logger, timeout: Duration = .seconds(15)) {
        self.http = http
        self.baseURL = baseURL
        self.logger = logger
        self.timeout = timeout
    }

    var calls: Int { state.withLock { $0.calls } }
    var retries: Int { state.withLock { $0.retries } }
    var lastStatus: Int? { state.withLock { $0.lastStatus } }

    /// `path` (starting with `/`) under the base URL.
    func url(_ path: String) -> String { baseURL + path }

    /// A next-page link the provider wrote on its own host, followed under the base URL (its path and query kept).
    func follow(_ link: String?) -> String? {
        guard let link, let components = URLComponents(string: link) else { return nil }
        return url(components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? ""))
    }

    func send(_ request: ProviderRequest) async throws -> ProviderResponse {
        var attempt = 0
        while true {
            if let wait = state.withLock({ $0.rateLimit?.wait(now: Date()) }) {
                guard wait <= ProviderRetry.policy.maxDelay else { throw ProviderFailure.rateLimited(retryAfter: wait) }
                try await Task.sleep(for: wait)
            }
            var status: Int?
            var retryAfter: Duration?
            var message = ""
            var response: ProviderResponse?
            do {
                var outgoing = HTTPClientRequest(url: request.url)
                outgoing.method = request.method
                outgoing.headers = request.headers
                outgoing.headers.replaceOrAdd(name: "Accept", value: "application/json")
                if let body = request.body { outgoing.body = .bytes(body) }
                let answer = try await http.execute(outgoing, timeout: .init(timeout))
                let body = try await answer.body.collect(upTo: 8 * 1024 * 1024)
                status = Int(answer.status.code)
                retryAfter = ProviderRetry.retryAfter(answer.headers.first(name: "Retry-After"), now: Date())
                // Only a failure's body is read for its message: a large answer is decoded once, by the connector.
                if !(200..<300).contains(Int(answer.status.code)) {
                    message = Self.errorMessage(in: body) ?? answer.status.reasonPhrase
                }
                response = ProviderResponse(status: Int(answer.status.code), headers: answer.headers, body: body)
                let limits = RateLimitState(headers: answer.headers, now: Date())
                state.withLock {
                    $0.calls += 1
                    $0.lastStatus = status
                    $0.rateLimit = limits
                }
            } catch {
                if Task.isCancelled { throw CancellationError() }
                message = String(describing: error)
                state.withLock { $0.calls += 1 }
            }
            let step = ProviderRetry.step(
                status: status,
                retryAfter: retryAfter,
                message: message,
                attempt: attempt,
                accepted: request.accepted,
                unitRandom: Double.random(in: 0...1)
            )
            switch step {
            case .done:
                return response!
            case .fail(let failure):
                throw failure
            case .retry(let delay):
                logger.info(
                    "provider call will be retried",
                    metadata: [
                        "path": .string(Self.path(of: request.url)), "status": .string(status.map(String.init) ?? "none"),
                        "attempt": "\(attempt + 1)",
                    ]
                )
                state.withLock { $0.retries += 1 }
                attempt += 1
                try await Task.sleep(for: delay)
            }
        }
    }

    func json<Value: Decodable>(_ request: ProviderRequest, as type: Value.Type) async throws -> Value {
        try await send(request).decode(type)
    }

    /// The path of a URL, without its query, for logs.
    static func path(of url: String) -> String {
        URLComponents(string: url)?.path ?? ""
    }

    /// A provider's error message, from the shapes they use: `{"message"}`, `{"error":{"message"}}`, `{"error"}`,
    /// `{"title","detail"}` (Vonage). Cut short so a large body never fills a log line.
    static func errorMessage(in body: ByteBuffer) -> String? {
        guard body.readableBytes > 0, let json = try? JSONDecoder().decode(JSONValue.self, from: body) else { return nil }
        let text =
            json["message"]?.string ?? json["error"]?["message"]?.string ?? json["error"]?.string ?? json["detail"]?.string
            ?? json["title"]?.string
        return text.map { String($0.prefix(300)) }
    }
}
