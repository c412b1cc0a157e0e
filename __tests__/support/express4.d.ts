// Express 4, installed under an alias for the compatibility test; typed as Express 5's default export.
declare module 'express4' {
  import express from 'express';
  export default express;
}
