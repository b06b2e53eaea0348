export * from './image';
export * from './images';
export * from './validate';
export * from './hash';
export * from './security';
export * from './labels';
