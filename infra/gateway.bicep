// azd deploys this with every new Gateway image (azure.yaml service `gateway`): the public REST API.
import { cache, ledger, deployedModels, workerName } from 'modules/shared.bicep'

@description('azd environment name.')
param environmentName string

@description('The image azd just built and pushed (SERVICE_GATEWAY_IMAGE_NAME).')
param image string

@description('Models the provision deployed, comma-separated (its ROUTER_MODELS output).')
param routerModels string

var models = deployedModels(routerModels)

// The whole portfolio in one setting: it replaces appsettings.json's array instead of being merged
// with it index by index, so a model removed here cannot linger.
var portfolioJson = string(map(models, (model, tier) => {
  name: model.name
  tier: tier
  inputUsdPerMillionTokens: model.inputUsdPerMillionTokens
  outputUsdPerMillionTokens: model.outputUsdPerMillionTokens
  parameterCount: model.?parameterCount
  contextLength: model.contextLength
  worker: workerName(model.name)
}))

// The ledger journal lives on the Azure Files share; each replica journals in its own sub-folder
// (named by CONTAINER_APP_REPLICA_NAME) and ships what a replica that is gone left behind.
var journalPath = '/mnt/ledger-journal'

module gateway 'modules/app.bicep' = {
  name: 'gateway-app'
  params: {
    name: 'gateway'
    environmentName: environmentName
    azdServiceName: 'gateway'
    image: image
    external: true
    size: 'medium'
    grpcReferences: concat([ 'scoring', 'policy', 'classifier' ], map(models, model => workerName(model.name)))
    maxReplicas: 10
    concurrentRequests: 100
    // Time to finish streams and flush the journal on scale-in; the host waits a little less.
    terminationGracePeriodSeconds: 120
    secrets: [
      cache.secret
      ledger.secret
      { name: 'admin-key', keyVaultSecret: 'gateway-admin-key' }
    ]
    volumes: [
      { name: 'ledger-journal', storageName: 'ledger-journal', mountPath: journalPath }
    ]
    env: [
      cache.env
      ledger.env
      { name: 'Access__Mode', value: 'Keys' }
      { name: 'Access__AdminKey', secretRef: 'admin-key' }
      { name: 'Portfolio__Json', value: portfolioJson }
      { name: 'Ledger__Directory', value: journalPath }
      // https://learn.microsoft.com/aspnet/core/fundamentals/host/generic-host#shutdowntimeout
      { name: 'ASPNETCORE_SHUTDOWNTIMEOUTSECONDS', value: '110' }
    ]
  }
}
