// Definitions shared by the provision template (main.bicep) and the per-service templates azd
// deploys with each new image (gateway.bicep, scoring.bicep, policy.bicep, classifier.bicep,
// inference-worker.bicep), so both stages name and size things the same way.

@export()
@description('The model portfolio, cheapest first: the one place models are declared (infra/portfolio.json).')
var portfolio = loadJsonContent('../portfolio.json').models

// Serverless GPU workload profiles and the one replica size each allows: T4 8 vCPU / 56 GiB with a
// 16 GB GPU (Turing: no bfloat16), A100 24 vCPU / 220 GiB with an 80 GB GPU. One GPU per replica,
// and only the first container of an app gets it.
// https://learn.microsoft.com/azure/azure-functions/functions-container-apps-gpu#supported-gpu-types
// https://learn.microsoft.com/azure/container-apps/workload-profiles-overview#consumption-profile-details
// https://learn.microsoft.com/azure/container-apps/gpu-types
// https://learn.microsoft.com/azure/container-apps/gpu-serverless-overview#considerations
@export()
var gpuProfiles = {
  T4: { name: 'gpu-t4', type: 'Consumption-GPU-NC8as-T4', cpu: '8', memory: '56Gi', gpuMemoryGiB: 16 }
  A100: { name: 'gpu-a100', type: 'Consumption-GPU-NC24-A100', cpu: '24', memory: '220Gi', gpuMemoryGiB: 80 }
}

@export()
@description('Names of the shared resources, derived from the resource group so both stages agree.')
func platformNames(resourceGroupId string) object => {
  environment: 'cae-${toLower(uniqueString(resourceGroupId))}'
  identity: 'id-${toLower(uniqueString(resourceGroupId))}'
  registry: 'cr${toLower(uniqueString(resourceGroupId))}'
  vault: 'kv-${toLower(uniqueString(resourceGroupId))}'
  storage: 'st${toLower(uniqueString(resourceGroupId))}'
  logs: 'log-${toLower(uniqueString(resourceGroupId))}'
  insights: 'appi-${toLower(uniqueString(resourceGroupId))}'
  redis: 'redis-${toLower(uniqueString(resourceGroupId))}'
  postgres: 'psql-${toLower(uniqueString(resourceGroupId))}'
}

// Model names may hold letters, digits and . _ - / : (the Gateway validates that); the worker's
// service name lower-cases them and turns every other character into '-' (ServiceNames.Worker).
func modelSlug(model string) string => toLower(replace(replace(replace(replace(model, '.', '-'), '_', '-'), '/', '-'), ':', '-'))

@export()
@description('The InferenceWorker app serving a model, as the Gateway and Scoring address it (services__worker-<model>__grpc__0).')
func workerName(model string) string => 'worker-${modelSlug(model)}'

@export()
@description('The vLLM app serving a self-hosted model on its GPU profile.')
func vllmName(model string) string => 'vllm-${modelSlug(model)}'

@export()
@description('The portfolio entries named in a comma-separated list (the ROUTER_MODELS output of the provision), in portfolio order.')
func deployedModels(names string) array => filter(portfolio, model => contains(split(names, ','), model.name))

// A model marked inGateway has its worker's code run in the Gateway's process (the portfolio's
// inProcess settings): no worker app and no gRPC hop; its backend's key is then a Gateway secret.
@export()
@description('Whether a portfolio model\'s worker runs in the Gateway\'s process (inGateway: true) rather than as an app of its own.')
func inGateway(model object) bool => model.?inGateway ?? false

@export()
@description('The deployed models that get a worker app of their own, in portfolio order.')
func workerModels(names string) array => filter(deployedModels(names), model => !inGateway(model))

@export()
@description('The Key Vault secret holding each backend\'s API key, written by the provision.')
var apiKeySecrets = {
  vllm: 'vllm-api-key'
  'azure-openai': 'azure-openai-api-key'
  openai: 'openai-api-key'
}

@export()
@description('The endpoint a model\'s worker calls: its vLLM app\'s internal ingress, else the portfolio entry\'s endpoint, else its cloud API (an Azure OpenAI resource\'s OpenAI-compatible v1 API).')
func backendEndpoint(model object, environmentDomain string, azureOpenAiEndpoint string) string =>
  model.backend == 'vllm'
    ? internalUrl(vllmName(model.name), environmentDomain)
    : model.?endpoint ?? {
        'azure-openai': '${azureOpenAiEndpoint}${endsWith(azureOpenAiEndpoint, '/') ? '' : '/'}openai/v1/'
        openai: 'https://api.openai.com/v1/'
      }[model.backend]

@export()
@description('The Gateway\'s secret holding the backend key of a model whose worker runs in its process.')
func gatewayApiKeySecret(model string) string => 'api-key-${modelSlug(model)}'

// Connection strings as the services read them locally (Aspire's ConnectionStrings__<name>), from
// the Key Vault secrets the provision writes.
@export()
var cache = {
  secret: { name: 'cache', keyVaultSecret: 'cache-connection' }
  env: { name: 'ConnectionStrings__cache', secretRef: 'cache' }
}

@export()
var ledger = {
  secret: { name: 'ledger', keyVaultSecret: 'ledger-connection' }
  env: { name: 'ConnectionStrings__ledger', secretRef: 'ledger' }
}

@export()
@description('Address of an app\'s internal ingress (TLS on 443, HTTP/2 to gRPC apps).')
func internalUrl(app string, environmentDomain string) string => 'https://${app}.internal.${environmentDomain}'
