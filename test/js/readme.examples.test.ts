// The README's examples, run as users would run them, so the README cannot
// drift from the code. A fenced block whose info string is `js test` or
// `ts test` is one example: it runs as an ES module file in its own node
// process (worker examples start workers from that file), importing
// 'threadmap' from this checkout (dist/ through esm/index.mjs, by the
// package's self-reference). A line `console.log(expr) // => value` must
// print a value deeply equal to `value` (node:assert deepStrictEqual), and
// every such line must be reached. `ts test` blocks are also type-checked
// against lib/index.ts, then compiled with transpileModule.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const root = path.resolve(__dirname, '..', '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
// Inside the package's folder, so `import 'threadmap'` resolves to this
// checkout by self-reference; build/ is git-ignored.
const outDir = path.join(root, 'build', `readme-examples-${process.pid}`)

interface Example {
  lang: 'js' | 'ts'
  /** README line of the block's first code line (1-based). */
  line: number
  code: string
}

/** The tested blocks, in README order. */
function examples(text: string): Example[] {
  const out: Example[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(js|ts) test\s*$/.exec(lines[i])
    if (open === null) continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end] !== '```') end++
    if (end === lines.length) throw new Error(`README.md line ${i + 1}: unclosed code block`)
    out.push({ lang: open[1] as 'js' | 'ts', line: start + 1, code: lines.slice(start, end).join('\n') })
    i = end
  }
  return out
}

const EXPECT = /^(\s*)console\.log\((.*)\)\s*\/\/ => (.*)$/

/** The README lines of an example's `// =>` checks. */
function checkLines(ex: Example): number[] {
  return ex.code.split('\n').flatMap((l, i) => (EXPECT.test(l) ? [ex.line + i] : []))
}

// Each check line becomes a call that compares, prints the value as
// console.log would, and reports its README line on stdout.
function instrument(ex: Example): string {
  const body = ex.code
    .split('\n')
    .map((l, i) => {
      const m = EXPECT.exec(l)
      return m === null ? l : `${m[1]}__readmeExpect((${m[2]}), (${m[3]}), ${ex.line + i})`
    })
    .join('\n')
  const prelude =
    "import { deepStrictEqual as __readmeDeepEqual } from 'node:assert'\n" +
    'function __readmeExpect(actual, expected, line) {\n' +
    "  __readmeDeepEqual(actual, expected, 'README.md line ' + line)\n" +
    '  console.log(actual)\n' +
    "  console.log('readme-check ' + line)\n" +
    '}\n'
  return prelude + body
}

// Type errors of a `ts test` block against the package's own types.
function typeErrors(ex: Example, file: string): string[] {
  fs.writeFileSync(file, ex.code)
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
    baseUrl: root,
    paths: { threadmap: ['lib/index.ts'] },
  })
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    if (d.file === undefined || d.start === undefined || d.file.fileName !== file) return text
    const { line } = d.file.getLineAndCharacterOfPosition(d.start)
    return `README.md line ${ex.line + line}: ${text}`
  })
}

function run(ex: Example, index: number): { status: number | null; stdout: string; stderr: string } {
  let js = instrument(ex)
  if (ex.lang === 'ts') {
    js = ts.transpileModule(js, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText
  }
  const file = path.join(outDir, `example-${index}.mjs`)
  fs.writeFileSync(file, js)
  const r = spawnSync(process.execPath, [file], { cwd: outDir, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const all = examples(readme)

beforeAll(() => fs.mkdirSync(outDir, { recursive: true }))
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }))

test('the README has tested examples, with checked output', () => {
  // The worker counter, the object cache, the typed create, the batches, NUMA.
  expect(all.length).toBeGreaterThanOrEqual(5)
  expect(all.some((ex) => ex.lang === 'ts')).toBe(true)
  expect(all.flatMap(checkLines).length).toBeGreaterThanOrEqual(8)
})

test('every `npm run` script and checkout path the README names exists', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const scripts = [...readme.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1])
  expect(scripts).toContain('bench')
  expect(scripts.filter((s) => !(s in pkg.scripts))).toEqual([])
  // Paths in the checkout (the prebuilds/ files exist only in the package).
  const paths = [...readme.matchAll(/(?:`|\]\(|`bash )((?:docs|scripts|test|\.ci)\/[\w./-]+?)[`#)]/g)].map((m) => m[1])
  expect(paths).toEqual(expect.arrayContaining(['docs/architecture.md', '.ci/run']))
  expect(paths.filter((p) => !fs.existsSync(path.join(root, p)))).toEqual([])
})

test('a broken example fails: a wrong expected value, and an exception', () => {
  // The harness itself must be able to fail, or a passing run means nothing.
  const wrong: Example = {
    lang: 'js',
    line: 1,
    code: "import { ThreadMap } from 'threadmap'\nconst m = new ThreadMap()\nm.set('a', 1)\nconsole.log(m.get('a')) // => 2",
  }
  const r = run(wrong, -1)
  expect(r.status).not.toBe(0)
  expect(r.stderr).toContain('README.md line 4')
  const throwing: Example = { lang: 'js', line: 1, code: "import { ThreadMap } from 'threadmap'\nnew ThreadMap(null, { keys: 'date' })" }
  expect(run(throwing, -2).status).not.toBe(0)
})

describe('README examples', () => {
  all.forEach((ex, i) => {
    test(`the ${ex.lang} example at README.md line ${ex.line}`, () => {
      if (ex.lang === 'ts') expect(typeErrors(ex, path.join(outDir, `example-${i}.ts`))).toEqual([])
      const r = run(ex, i)
      expect(r.stderr, `stdout:\n${r.stdout}`).toBe('')
      expect(r.status).toBe(0)
      const reached = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('readme-check '))
        .map((l) => Number(l.slice('readme-check '.length)))
      expect(reached.sort((a, b) => a - b)).toEqual(checkLines(ex))
    })
  })
})
