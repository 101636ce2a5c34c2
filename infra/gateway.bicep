// azd deploys this with every new Gateway image (azure.yaml service `gateway`): the public REST API,
// with the workers of the portfolio's inGateway models in its own process.
import { cache, ledger, platformNames, deployedModels, workerModels, workerName, inGateway, apiKeySecrets, backendEndpoint, gatewayApiKeySecret } from 'modules/shared.bicep'

@description('azd environment name.')
param environmentName string

@description('The image azd just built and pushed (SERVICE_GATEWAY_IMAGE_NAME).')
param image string

@description('Models the provision deployed, comma-separated (its ROUTER_MODELS output).')
param routerModels string

@description('Azure OpenAI resource endpoint as the portal shows it (AZURE_OPENAI_ENDPOINT), for azure-openai models whose worker runs in the Gateway.')
param azureOpenAiEndpoint string = ''

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' existing = {
  name: platformNames(resourceGroup().id).environment
}

var models = deployedModels(routerModels)
var modelsInGateway = filter(models, model => inGateway(model))

// The whole portfolio in one setting: it replaces appsettings.json's array instead of being merged
// with it index by index, so a model removed here cannot linger. A model whose worker runs here
// carries that worker's backend settings (inProcess) instead of a worker app's name.
var portfolioJson = string(map(models, (model, tier) => union({
  name: model.name
  tier: tier
  inputUsdPerMillionTokens: model.inputUsdPerMillionTokens
  outputUsdPerMillionTokens: model.outputUsdPerMillionTokens
  parameterCount: model.?parameterCount
  contextLength: model.contextLength
}, inGateway(model) ? {
  inProcess: {
    backend: model.backend
    endpoint: backendEndpoint(model, environment.properties.defaultDomain, azureOpenAiEndpoint)
    backendModel: model.servedModel
  }
} : {
  worker: workerName(model.name)
})))

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
    grpcReferences: concat([ 'scoring', 'policy', 'classifier' ], map(workerModels(routerModels), model => workerName(model.name)))
    maxReplicas: 10
    concurrentRequests: 100
    // Time to finish streams and flush the journal on scale-in; the host waits a little less.
    terminationGracePeriodSeconds: 120
    secrets: concat([
      cache.secret
      ledger.secret
      { name: 'admin-key', keyVaultSecret: 'gateway-admin-key' }
    ], map(modelsInGateway, model => { name: gatewayApiKeySecret(model.name), keyVaultSecret: apiKeySecrets[model.backend] }))
    volumes: [
      { name: 'ledger-journal', storageName: 'ledger-journal', mountPath: journalPath }
    ]
    // A backend key reaches the worker in this process as Portfolio:ApiKeys:<model>.
    env: concat([
      cache.env
      ledger.env
      { name: 'Access__Mode', value: 'Keys' }
      { name: 'Access__AdminKey', secretRef: 'admin-key' }
      { name: 'Portfolio__Json', value: portfolioJson }
      { name: 'Ledger__Directory', value: journalPath }
      // https://learn.microsoft.com/aspnet/core/fundamentals/host/generic-host#shutdowntimeout
      { name: 'ASPNETCORE_SHUTDOWNTIMEOUTSECONDS', value: '110' }
    ], map(modelsInGateway, model => { name: 'Portfolio__ApiKeys__${model.name}', secretRef: gatewayApiKeySecret(model.name) }))
  }
}
