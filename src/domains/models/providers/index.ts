/** Every model type: importing a provider registers it (see ../provider.ts). */
import './extractive.js';
import './openai-compatible.js';
import './openai-compatible-embeddings.js';
