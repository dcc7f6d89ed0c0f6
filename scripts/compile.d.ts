// Types of compile.js (plain JavaScript: bin/sluice.js loads it before anything can compile).
export declare const ROOT: string;
export declare const DIST: string;
export declare function sourceFingerprint(files?: string[]): string;
export declare function isCompiledFresh(): boolean;
export declare function compile(): Promise<{ files: number; ms: number }>;
