import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Takes due events from the outbox and delivers them to the CRM, retrying on the schedule and pausing behind a
/// circuit breaker while the CRM is down. Runs in the service's ServiceGroup; stops taking events on shutdown.
final class RelayWorker: Service, Sendable {
    let settings: RelaySettings
    let postgres: PostgresClient
    let http: HTTPClient
    let logger: Logger
    let workerID = "relay-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
    let breaker: Mutex<CircuitBreaker>

    init(settings: RelaySettings, postgres: PostgresClient, http: HTTPClient, logger: Logger) {
        self.settings = settings
        self.postgres = postgres
        self.http = http
        self.logger = logger
        breaker = Mutex(CircuitBreaker(threshold: settings.breakerFailures, probeInterval: settings.breakerProbeInterval))
    }

    var breakerState: CircuitBreaker { breaker.withLock { $0 } }

    func run() async throws {
        guard let webhookURL = settings.webhookURL, settings.concurrency > 0 else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let worked = try await self.step(webhookURL: webhookURL)
                    if !worked { try await Task.sleep(for: self.settings.pollInterval) }
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("relay step failed", metadata: ["error": .string(String(reflecting: error))])
                    try? await Task.sleep(for: self.settings.pollInterval)
                }
            }
        }
    }

    /// One round: a probe while the breaker is open, else a batch of deliveries. False when there was nothing to do.
    func step(webhookURL: String) async throws -> Bool {
        let now = ContinuousClock.now
        if !breaker.withLock({ $0.allowsDeliveries }) {
            guard breaker.withLock({ $0.probeDue(now: now) }) else { return false }
            let healthy = await probe(webhookURL: webhookURL)
            breaker.withLock { $0.recordProbe(healthy: healthy, now: .now) }
            logger.notice("CRM health probe", metadata: ["healthy": "\(healthy)"])
            return healthy
        }
        let events = try await OutboxQueries.claim(
            limit: settings.concurrency,
            worker: workerID,
            lease: settings.lease,
            postgres: postgres,
            logger: logger
        )
        guard !events.isEmpty else { return false }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for event in events {
                group.addTask { try await self.deliver(event, webhookURL: webhookURL) }
            }
            try await group.waitForAll()
        }
        return true
    }

    func deliver(_ event: ClaimedEvent, webhookURL: String) async throws {
        var request = HTTPClientRequest(url: "\(webhookURL)/\(event.kind.rawValue)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(settings.apiKey ?? "")")
        request.headers.add(name: "X-Event-Id", value: event.id.uuidString.lowercased())
        request.headers.add(name: "Idempotency-Key", value: event.id.uuidString.lowercased())
        request.body = .bytes(ByteBuffer(string: event.payload))

        let attemptedAt = Date()
        let start = ContinuousClock.now
        var status: Int?
        var retryAfter: String?
        var excerpt: String?
        var failure: String?
        do {
            let response = try await http.execute(request, timeout: TimeAmount(settings.timeout))
            // An answer counts only once it has fully arrived: a connection dropped mid-answer is a failed attempt.
            var body = try await response.body.collect(upTo: 1024 * 1024)
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After")
            excerpt = body.readString(length: min(body.readableBytes, 2_048))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            failure = "timed out after \(settings.timeout)"
        } catch {
            failure = String(describing: error)
        }
        let latency = ContinuousClock.now - start
        let outcome = AttemptOutcome.classify(status: status, retryAfter: retryAfter)
        breaker.withLock { $0.record(outcome, now: .now) }

        let settlement: OutboxQueries.Settlement
        switch outcome {
        case .delivered: settlement = .delivered
        case .rejected: settlement = .failed
        case .transientFailure(let retryAfter):
            let delay = settings.schedule.delay(beforeRetry: event.attempt, retryAfter: retryAfter, unitRandom: Double.random(in: 0...1))
            settlement = delay.map { .retry(after: $0) } ?? .failed
        }
        try await OutboxQueries.settle(
            event,
            as: settlement,
            attempt: .init(
                attemptedAt: attemptedAt,
                httpStatus: status,
                latencyMilliseconds: Int(latency.inSeconds * 1000),
                error: failure,
                responseExcerpt: excerpt
            ),
            worker: workerID,
            postgres: postgres,
            logger: logger
        )
        logger.info(
            "CRM delivery attempt",
            metadata: [
                "event_id": .string(event.id.uuidString), "attempt": "\(event.attempt)", "status": "\(status.map(String.init) ?? "none")",
                "outcome": "\(settlement)",
            ]
        )
    }

    /// `GET …/webhooks/health`: a 2xx means the CRM is back.
    func probe(webhookURL: String) async -> Bool {
        await CRMHealth.check(webhookURL: webhookURL, apiKey: settings.apiKey, http: http).reachable
    }
}

/// The CRM's health endpoint, as the admin page and the breaker read it.
struct CRMHealth: Codable, Sendable, Equatable {
    var reachable: Bool
    var status: Int?
    var latencyMs: Int

    static func check(webhookURL: String, apiKey: String?, http: HTTPClient) async -> CRMHealth {
        var request = HTTPClientRequest(url: "\(webhookURL)/health")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let start = ContinuousClock.now
        do {
            let response = try await http.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 64 * 1024)
            let latency = Int((ContinuousClock.now - start).inSeconds * 1000)
            return CRMHealth(reachable: (200..<300).contains(response.status.code), status: Int(response.status.code), latencyMs: latency)
        } catch {
            return CRMHealth(reachable: false, status: nil, latencyMs: Int((ContinuousClock.now - start).inSeconds * 1000))
        }
    }
}
