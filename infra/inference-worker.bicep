// azd deploys this with every new InferenceWorker image (azure.yaml service `inference-worker`):
// one worker app per deployed model whose worker does not run in the Gateway (inGateway), all on
// that image, on the Consumption profile. A self-hosted model's worker calls its vLLM app
// (provisioned on a GPU profile) over internal ingress.
import { platformNames, workerModels, workerName, apiKeySecrets, backendEndpoint } from 'modules/shared.bicep'

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

module workers 'modules/app.bicep' = [for (model, i) in workerModels(routerModels): {
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
      { name: 'Worker__Endpoint', value: backendEndpoint(model, environment.properties.defaultDomain, azureOpenAiEndpoint) }
      { name: 'Worker__ApiKey', secretRef: 'api-key' }
      { name: 'Worker__ContextLength', value: string(model.contextLength) }
      { name: 'Worker__ParameterCount', value: string(model.?parameterCount ?? 0) }
      // Interpolated, not string(): ARM's string() refuses a fractional number such as 0.18.
      { name: 'Worker__InputUsdPerMillionTokens', value: '${model.inputUsdPerMillionTokens}' }
      { name: 'Worker__OutputUsdPerMillionTokens', value: '${model.outputUsdPerMillionTokens}' }
    ]
  }
}]
