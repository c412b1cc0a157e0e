/**
 * req.auth is assignable to the MCP SDK's AuthInfo under the strictest compiler settings a user
 * may have: types/auth-info.ts compiled with `strict` and `exactOptionalPropertyTypes` (the
 * project's own tsc run compiles it with `strict` alone).
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const file = fileURLToPath(new URL('./types/auth-info.ts', import.meta.url));

test('AuthResult is an MCP AuthInfo under strict + exactOptionalPropertyTypes', () => {
  const program = ts.createProgram([file], {
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
  });
  // Only this file's diagnostics: the package's own sources are compiled under the project's settings.
  const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(file));
  const messages = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(messages).toEqual([]);
});
