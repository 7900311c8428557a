FROM ruby:3.3
ENV RAILS_ENV=production BUNDLE_WITHOUT="development test"
RUN apt-get update -qq && apt-get install -y nodejs postgresql-client
WORKDIR /rails
COPY Gemfile Gemfile.lock ./
RUN bundle install
COPY . .
RUN SECRET_KEY_BASE_DUMMY=1 ./bin/rails assets:precompile
RUN useradd rails --create-home --shell /bin/bash && chown -R rails:rails db log storage tmp
USER rails:rails
EXPOSE 3000
CMD ["./bin/rails", "server"]
