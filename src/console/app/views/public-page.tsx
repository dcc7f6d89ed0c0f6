/** The frame of the signed-out views: a narrow card in the middle, readable on any screen. */
import type { ReactNode } from 'react';
import Card from 'react-bootstrap/Card';
import Container from 'react-bootstrap/Container';

export function PublicPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Container as="main" className="py-5 public-page">
      <p className="h4 text-center mb-4">Sluice console</p>
      <Card>
        <Card.Body>
          <h1 className="h4 mb-3">{title}</h1>
          {children}
        </Card.Body>
      </Card>
    </Container>
  );
}
