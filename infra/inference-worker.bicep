// azd deploys this with every new InferenceWorker image (azure.yaml service `inference-worker`):
// one worker app per deployed model, all on that image, on the Consumption profile. A self-hosted
// model's worker calls its vLLM app (provisioned on a GPU profile) over internal ingress.
import { platformNames, deployedModels, workerName, vllmName, internalUrl } from 'modules/shared.bicep'

@description('azd environment name.')
param environmentName string

@description('The image azd just built and pushed (SERVICE_INFERENCE_WORKER_IMAGE_NAME).')
param image string

@description('Models the provision deployed, comma-separated (its ROUTER_MODELS output).')
param routerModels string

@description('Azure OpenAI resource endpoint as the portal shows it, e.g. https://<resource>.openai.azure.com/ (AZURE_OPENAI_ENDPOINT).')
param azureOpenAiEndpoint string = ''

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' existing = {
  name: platformNames(resourceGroup().id).environment
}

// The Key Vault secret holding each backend's key, written by the provision.
var apiKeySecrets = {
  vllm: 'vllm-api-key'
  'azure-openai': 'azure-openai-api-key'
  openai: 'openai-api-key'
}

// The OpenAI-compatible v1 API of an Azure OpenAI resource.
var azureOpenAiV1 = '${azureOpenAiEndpoint}${endsWith(azureOpenAiEndpoint, '/') ? '' : '/'}openai/v1/'

var backendEndpoints = {
  'azure-openai': azureOpenAiV1
  openai: 'https://api.openai.com/v1/'
}

module workers 'modules/app.bicep' = [for (model, i) in deployedModels(routerModels): {
  name: '${workerName(model.name)}-app'
  params: {
    name: workerName(model.name)
    environmentName: environmentName
    // azd resolves the service's target by this tag and wants exactly one app to carry it.
    azdServiceName: i == 0 ? 'inference-worker' : ''
    image: image
    grpc: true
    maxReplicas: 3
    concurrentRequests: 32
    secrets: [
      { name: 'api-key', keyVaultSecret: apiKeySecrets[model.backend] }
    ]
    env: [
      { name: 'Worker__Model', value: model.name }
      { name: 'Worker__Backend', value: model.backend }
      { name: 'Worker__BackendModel', value: model.servedModel }
      { name: 'Worker__Endpoint', value: model.backend == 'vllm' ? internalUrl(vllmName(model.name), environment.properties.defaultDomain) : model.?endpoint ?? backendEndpoints[model.backend] }
      { name: 'Worker__ApiKey', secretRef: 'api-key' }
      { name: 'Worker__ContextLength', value: string(model.contextLength) }
      { name: 'Worker__ParameterCount', value: string(model.?parameterCount ?? 0) }
      { name: 'Worker__InputUsdPerMillionTokens', value: string(model.inputUsdPerMillionTokens) }
      { name: 'Worker__OutputUsdPerMillionTokens', value: string(model.outputUsdPerMillionTokens) }
    ]
  }
}]
