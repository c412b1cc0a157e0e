export { nodeAuth, type NodeAuthHandler, type NodeAuthOptions } from './node-auth.js';
