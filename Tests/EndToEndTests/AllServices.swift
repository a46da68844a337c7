import BillingWebhooks
import CRMRelay
import DevOpsAPI
import InsightsUsage
import RevioData
import ServiceKit
import StripeSync

let allServiceTypes: [any RevmeshService.Type] = [
    BillingWebhooksService.self, StripeSyncService.self, InsightsUsageService.self,
    RevioDataService.self, CRMRelayService.self, DevOpsAPIService.self,
]

let allServices = allServiceTypes.map { $0.descriptor }
